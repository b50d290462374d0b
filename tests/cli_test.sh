#!/bin/sh
# cli_test.sh BIN — end-to-end checks of the scorerecon binary: `run` from a file and from stdin, -o, --lists,
# exit statuses (0 ok, 2 invalid job or usage, 1 other failure), the one-line error, and results that do not
# depend on --threads. Prints "cli: N passed, N failed"; exits non-zero on any failure.
set -u
BIN=${1:?usage: sh tests/cli_test.sh path/to/scorerecon}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
if [ ! -x "$BIN" ]; then
  echo "cli: $BIN is not an executable" >&2
  echo "cli: 0 passed, 1 failed"
  exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check NAME COMMAND...: passes when COMMAND succeeds
check() {
  name=$1
  shift
  if "$@"; then ok; else bad "$name"; fi
}

# valid_json FILE: python's json.tool where Debian's python3 is there, else a grep-level check
if [ -x /usr/bin/python3 ]; then
  valid_json() { /usr/bin/python3 -m json.tool "$1" >/dev/null 2>&1; }
else
  valid_json() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^{.*}$' "$1" && grep -q '"stats":{' "$1"; }
fi
has() { grep -qF -- "$2" "$1"; }            # has FILE STRING
hasnt() { ! grep -qF -- "$2" "$1"; }
lines() { wc -l <"$1" | tr -d ' '; }          # lines FILE
empty() { [ ! -s "$1" ]; }
# run_bin OUT ERR ARGS...: runs the binary, stdout and stderr to files, sets rc
run_bin() {
  o=$1
  e=$2
  shift 2
  "$BIN" "$@" >"$o" 2>"$e"
  rc=$?
}
rc_is() { [ "$rc" -eq "$1" ] || { echo "  exit status $rc, want $1"; return 1; }; }
# one_error ERR FIELD: exactly one line, "error: " first, naming FIELD
one_error() {
  [ "$(lines "$1")" = 1 ] || { echo "  stderr has $(lines "$1") lines:"; cat "$1"; return 1; }
  case $(cat "$1") in
  "error: "*) ;;
  *) echo "  stderr does not start with 'error: ': $(cat "$1")"; return 1 ;;
  esac
  has "$1" "$2" || { echo "  stderr does not name $2: $(cat "$1")"; return 1; }
}
strip_seconds() { sed 's/"seconds":[-0-9.eE+]*,\{0,1\}//' "$1"; }

# ---------------------------------------------------------------- documents

cat >"$T/job.json" <<'EOF'
{
  "shape": [4, 4],
  "operator": {"type": "identity"},
  "noise": {"sigma": 0.1},
  "observation": [[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2], [1.3, 1.4, 1.5, 1.6]],
  "prior": {"type": "gaussian", "mean": 0, "std": 1},
  "sampler": {"type": "langevin", "steps": 200},
  "num_samples": 4,
  "seed": 7,
  "ground_truth": [[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]
}
EOF
# the same job, 4 chains, every output (for the thread-count comparison)
sed 's/"num_samples": 4,/"num_samples": 4, "outputs": ["mean", "std", "samples", {"trajectories": {"every": 50}}],/' \
  "$T/job.json" >"$T/all.json"
cat >"$T/bad.json" <<'EOF'
{"shape": [4], "operator": {"type": "none"}, "prior": {"type": "gaussian", "std": 0},
 "sampler": {"type": "langevin", "steps": 10}}
EOF
printf '{"shape": [4], "operator": {"type": "none"},' >"$T/trunc.json"
printf '{"shape": [4], "a\\nb\\u001b[31m": 1}' >"$T/ctl.json"
cat >"$T/big.json" <<'EOF'
{"shape": [1000000, 1000000], "operator": {"type": "none"}, "prior": {"type": "gaussian", "std": 1},
 "sampler": {"type": "langevin"}}
EOF

# ---------------------------------------------------------------- valid runs

run_bin "$T/o1" "$T/e1" run "$T/job.json"
check "run FILE exits 0" rc_is 0
check "run FILE writes valid JSON" valid_json "$T/o1"
check "run FILE writes a float32 mean [4,4]" has "$T/o1" '"mean":{"dtype":"float32","shape":[4,4],"data":"'
check "run FILE writes a float32 std [4,4]" has "$T/o1" '"std":{"dtype":"float32","shape":[4,4],"data":"'
check "run FILE writes stats" has "$T/o1" '"stats":{"score_evals":'
check "run FILE writes the effective sampler" has "$T/o1" '"sampler":{"type":"langevin","steps":200,'
check "run FILE writes metrics against ground_truth" has "$T/o1" '"metrics":{"psnr":'
check "run FILE: effective burn_in = steps/5" has "$T/o1" '"burn_in":40'
check "run FILE: num_samples" has "$T/o1" '"num_samples":4'
check "run FILE: no samples unless asked" hasnt "$T/o1" '"samples"'
check "run FILE: nothing on stderr when stderr is not a terminal" empty "$T/e1"

run_bin "$T/o2" "$T/e2" run - --quiet <"$T/job.json"
check "run - (stdin) exits 0" rc_is 0
check "run - writes valid JSON" valid_json "$T/o2"
strip_seconds "$T/o1" >"$T/o1.s"
strip_seconds "$T/o2" >"$T/o2.s"
check "run - and run FILE agree" cmp -s "$T/o1.s" "$T/o2.s"

run_bin "$T/o3" "$T/e3" run "$T/job.json" -o "$T/res.json" --quiet
check "-o FILE exits 0" rc_is 0
check "-o FILE writes nothing on stdout" empty "$T/o3"
check "-o FILE writes the file" test -s "$T/res.json"
check "-o FILE is valid JSON" valid_json "$T/res.json"
strip_seconds "$T/res.json" >"$T/res.s"
check "-o FILE holds the same result" cmp -s "$T/o1.s" "$T/res.s"

run_bin "$T/o4" "$T/e4" run --lists "$T/job.json" --quiet
check "--lists exits 0" rc_is 0
check "--lists is valid JSON" valid_json "$T/o4"
check "--lists gives nested lists for mean" grep -q '"mean":\[\[[-0-9.e]*,' "$T/o4"
check "--lists gives nested lists for std" grep -q '"std":\[\[[-0-9.e]*,' "$T/o4"
check "--lists has no base64 ARRAY" hasnt "$T/o4" '"dtype"'

# --threads does not change the result
run_bin "$T/t1" "$T/et1" run "$T/all.json" --threads 1 -o "$T/th1.json"
check "--threads 1 exits 0" rc_is 0
run_bin "$T/t2" "$T/et2" run "$T/all.json" --threads 2 -o "$T/th2.json"
check "--threads 2 exits 0" rc_is 0
check "--threads result holds samples [4,4,4]" has "$T/th1.json" '"samples":{"dtype":"float32","shape":[4,4,4],'
check "--threads result holds trajectories" has "$T/th1.json" '"trajectories":{"every":50,"times":[0,50,100,150,200]'
strip_seconds "$T/th1.json" >"$T/th1.s"
strip_seconds "$T/th2.json" >"$T/th2.s"
check "the seconds stat is stripped" hasnt "$T/th1.s" '"seconds"'
check "--threads 1 and --threads 2 give byte-identical results" cmp -s "$T/th1.s" "$T/th2.s"
run_bin "$T/t3" "$T/et3" run "$T/all.json" --threads 3 --lists -o "$T/th3.json"
run_bin "$T/t4" "$T/et4" run "$T/all.json" --threads 1 --lists -o "$T/th4.json"
strip_seconds "$T/th3.json" >"$T/th3.s"
strip_seconds "$T/th4.json" >"$T/th4.s"
check "--threads 3 and 1 agree in --lists form" cmp -s "$T/th3.s" "$T/th4.s"

# ---------------------------------------------------------------- failures

run_bin "$T/o5" "$T/e5" run "$T/bad.json"
check "invalid job exits 2" rc_is 2
check "invalid job: one 'error: ' line naming prior.std" one_error "$T/e5" "prior.std"
check "invalid job: the message" has "$T/e5" "error: prior.std must be > 0"
check "invalid job: nothing on stdout" empty "$T/o5"

# binary images: the Ising prior takes mh only, and the error names both fields; an mh run is thread-independent
sed 's/"prior": {"type": "gaussian", "mean": 0, "std": 1}/"prior": {"type": "ising", "coupling": 0.5, "values": [0, 1]}/' \
  "$T/job.json" >"$T/ising_langevin.json"
run_bin "$T/o20" "$T/e20" run "$T/ising_langevin.json"
check "ising prior with langevin exits 2" rc_is 2
check "ising prior with langevin: one line naming sampler.type" one_error "$T/e20" "sampler.type"
check "ising prior with langevin: the message names prior.type ising" has "$T/e20" "prior.type ising"
sed 's/"sampler": {"type": "langevin", "steps": 200}/"sampler": {"type": "mh", "sweeps": 100}/' \
  "$T/job.json" >"$T/gauss_mh.json"
run_bin "$T/o21" "$T/e21" run "$T/gauss_mh.json"
check "mh with a gaussian prior exits 2" rc_is 2
check "mh with a gaussian prior: names sampler.type and prior.type gaussian" has "$T/e21" \
  "error: sampler.type mh flips pixels between two values and needs a discrete prior (prior.type ising); prior.type gaussian"
sed 's/"sampler": {"type": "langevin", "steps": 200}/"sampler": {"type": "mh", "sweeps": 100, "proposal": "checkerboard"}/' \
  "$T/ising_langevin.json" >"$T/ising.json"
run_bin "$T/o22" "$T/e22" run "$T/ising.json" --threads 1 --quiet
check "ising + mh exits 0" rc_is 0
check "ising + mh: stats with acceptance and flips per second" grep -q '"acceptance_rate":.*"flips_per_second":' "$T/o22"
run_bin "$T/o23" "$T/e23" run "$T/ising.json" --threads 2 --quiet
strip_seconds "$T/o22" | sed 's/"flips_per_second":[-0-9.eE+]*//' >"$T/o22.s"
strip_seconds "$T/o23" | sed 's/"flips_per_second":[-0-9.eE+]*//' >"$T/o23.s"
check "ising + mh: --threads 1 and 2 give identical results" cmp -s "$T/o22.s" "$T/o23.s"

# ddrm, smc and auto on the tiny gaussian job: results with stats (diagnostics, smc's particles) and warnings
sed 's/"sampler": {"type": "langevin", "steps": 200}/"sampler": {"type": "ddrm", "steps": 20}/' \
  "$T/job.json" >"$T/ddrm.json"
run_bin "$T/o24" "$T/e24" run "$T/ddrm.json" --quiet
check "ddrm exits 0" rc_is 0
check "ddrm writes valid JSON" valid_json "$T/o24"
check "ddrm: stats with R-hat and ESS" grep -q '"stats":{"score_evals":.*"rhat":.*"ess":' "$T/o24"
check "ddrm: the effective sampler, defaults filled" has "$T/o24" \
  '"sampler":{"type":"ddrm","sde":{"type":"ve","sigma_min":0.01,"sigma_max":50},"steps":20,"eta":0.85,"eta_b":1}'
check "ddrm: warnings" has "$T/o24" '"warnings":['
check "ddrm: not auto" hasnt "$T/o24" '"auto"'
sed 's/"sampler": {"type": "langevin", "steps": 200}/"sampler": {"type": "smc", "steps": 20, "particles": 8}/' \
  "$T/job.json" >"$T/smc.json"
run_bin "$T/o25" "$T/e25" run "$T/smc.json" --quiet --threads 1
check "smc exits 0" rc_is 0
check "smc writes valid JSON" valid_json "$T/o25"
check "smc: stats with particles, resamples, log evidence and the ESS history" \
  grep -q '"stats":{"score_evals":.*"particles":8,"resamples":[0-9]*,"log_evidence":[-0-9.eE+]*,"ess_history":\[' "$T/o25"
check "smc: the effective sampler" has "$T/o25" '"steps":20,"particles":8,"ess_threshold":0.5}'
check "smc: warnings" has "$T/o25" '"warnings":['
run_bin "$T/o26" "$T/e26" run "$T/smc.json" --quiet --threads 3
strip_seconds "$T/o25" >"$T/o25.s"
strip_seconds "$T/o26" >"$T/o26.s"
check "smc: --threads 1 and 3 give identical results" cmp -s "$T/o25.s" "$T/o26.s"
# no sampler: {"type": "auto"}, which picks smc for a gaussian prior and says so
sed 's/"sampler": {"type": "langevin", "steps": 200},//' "$T/job.json" >"$T/auto.json"
run_bin "$T/o27" "$T/e27" run "$T/auto.json" --quiet
check "no sampler (auto) exits 0" rc_is 0
check "no sampler (auto): smc, marked auto" grep -q '"sampler":{"type":"smc",.*"auto":true}' "$T/o27"
# the spectral samplers refuse a list of operators, naming sampler.type
sed 's/"operator": {"type": "identity"}/"operator": [{"type": "identity"}, {"type": "identity"}]/' \
  "$T/ddrm.json" >"$T/ddrm_list.json"
run_bin "$T/o28" "$T/e28" run "$T/ddrm_list.json"
check "ddrm with a list of operators exits 2" rc_is 2
check "ddrm with a list of operators: one line naming sampler.type" one_error "$T/e28" "error: sampler.type"
sed 's/"steps": 20}/"steps": 20, "eta": 1.5}/' "$T/ddrm.json" >"$T/ddrm_eta.json"
run_bin "$T/o29" "$T/e29" run "$T/ddrm_eta.json"
check "ddrm eta 1.5 exits 2" rc_is 2
check "ddrm eta 1.5: one line naming sampler.eta" one_error "$T/e29" "error: sampler.eta must be in [0, 1]"

run_bin "$T/o6" "$T/e6" run - <"$T/trunc.json"
check "truncated JSON exits 2" rc_is 2
check "truncated JSON: one line naming job" one_error "$T/e6" "job is not valid JSON"

run_bin "$T/o7" "$T/e7" run "$T/ctl.json"
check "control characters in a key: exits 2" rc_is 2
check "control characters in a key: still one line" one_error "$T/e7" 'is not a known field'
check "control characters are escaped" has "$T/e7" 'a\x0ab\x1b[31m'

run_bin "$T/o8" "$T/e8" run "$T/big.json"
check "shape over the pixel limit exits 2" rc_is 2
check "shape over the pixel limit: one line naming shape" one_error "$T/e8" "shape has more than the limit"

run_bin "$T/o9" "$T/e9" run "$T/no-such-file.json"
check "unreadable file exits 1" rc_is 1
check "unreadable file: error line" one_error "$T/e9" "cannot read"
mkdir "$T/dir.json"
run_bin "$T/o10" "$T/e10" run "$T/dir.json"
check "a directory exits 1" rc_is 1
check "a directory: cannot read" one_error "$T/e10" "cannot read"

run_bin "$T/o11" "$T/e11" run "$T/job.json" -o "$T/no-such-dir/out.json"
check "unwritable output exits 1" rc_is 1
check "unwritable output: error line" has "$T/e11" "error: cannot write"

run_bin "$T/o12" "$T/e12" frobnicate
check "unknown subcommand exits 2" rc_is 2
check "unknown subcommand is named" has "$T/e12" "unknown command 'frobnicate'"
run_bin "$T/o13" "$T/e13"
check "no subcommand exits 2" rc_is 2
run_bin "$T/o14" "$T/e14" run
check "run without a job exits 2" rc_is 2
run_bin "$T/o15" "$T/e15" run "$T/job.json" --bogus
check "unknown option exits 2" rc_is 2
run_bin "$T/o16" "$T/e16" run "$T/job.json" --threads 0
check "--threads 0 exits 2" rc_is 2
run_bin "$T/o17" "$T/e17" run "$T/job.json" --threads two
check "--threads two exits 2" rc_is 2

run_bin "$T/o18" "$T/e18" version
check "version exits 0" rc_is 0
check "version prints the version" grep -q '^scorerecon [0-9][0-9.]*$' "$T/o18"
run_bin "$T/o19" "$T/e19" help
check "help exits 0" rc_is 0
check "help prints the usage" has "$T/o19" "scorerecon run JOB.json"

# --help is usage on stdout and exit 0, for every subcommand that takes arguments
for sub in run models; do
  run_bin "$T/oh" "$T/eh" $sub --help
  check "$sub --help exits 0" rc_is 0
  check "$sub --help prints the usage" has "$T/oh" "scorerecon run JOB.json"
done
# serve --help: every option with its variable, default and range
run_bin "$T/os" "$T/es" serve --help
check "serve --help exits 0" rc_is 0
check "serve --help shows defaults" has "$T/os" "(default 127.0.0.1:8080, range port 0-65535)"
check "serve --help shows ranges" has "$T/os" "SCORERECON_WORKERS             jobs run at once (default 1, range 1-256)"
check "serve --help says what a limit does" has "$T/os" "(default 33554432 (32 MiB), range 1024-1e9; over it: 413 body-too-large)"
# an unwritable -o is found before the job runs: a job of 2·10^7 Langevin steps (minutes) fails at once
sed 's/"steps": 200/"steps": 20000000/' "$T/job.json" >"$T/long.json"
t0=$(date +%s)
run_bin "$T/o20" "$T/e20" run "$T/long.json" -o "$T/no-such-dir/out.json" --quiet
check "unwritable output is checked before the run" rc_is 1
check "unwritable output: checked at once" [ $(($(date +%s) - t0)) -lt 10 ]
check "unwritable output: named" has "$T/e20" "error: cannot write $T/no-such-dir/out.json"
# one draw in all has no spread: coverage95 is null, not 0
sed 's/"num_samples": 4,/"num_samples": 1,/; s/"steps": 200}/"steps": 200, "burn_in": 199}/' "$T/job.json" >"$T/one.json"
run_bin "$T/o21" "$T/e21" run "$T/one.json"
check "one draw runs" rc_is 0
check "one draw: coverage95 is null" has "$T/o21" '"coverage95":null'
# a Gaussian std whose 1/std² overflows is named as prior.std (there is no prior.stds for a gaussian)
sed 's/"std": 1}/"std": 1e-300}/' "$T/job.json" >"$T/tiny.json"
run_bin "$T/o22" "$T/e22" run "$T/tiny.json"
check "std 1e-300 exits 2" rc_is 2
check "std 1e-300 names prior.std" one_error "$T/e22" "prior.std is so small"

# models are found through --models, then SCORERECON_MODELS, then ./models, then the installed location
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$T/elsewhere"
(cd "$T/elsewhere" && SCORERECON_MODELS="$ROOT/models" "$BIN" models >"$T/m1" 2>&1)
check "models: SCORERECON_MODELS is searched" has "$T/m1" '"name":	"fashion-mnist"'
(cd "$T/elsewhere" && env -u SCORERECON_MODELS "$BIN" models >"$T/m2" 2>&1)
check "models: without ./models, the installed location" has "$T/m2" '/share/scorerecon/models"'
(cd "$ROOT" && env -u SCORERECON_MODELS "$BIN" models >"$T/m3" 2>&1)
check "models: ./models when it exists" has "$T/m3" '"models_dir":	"models"'
(cd "$T/elsewhere" && SCORERECON_MODELS="$ROOT/models" "$BIN" models "$ROOT/tests/data" >"$T/m4" 2>&1)
check "models: a named directory wins" has "$T/m4" '"name":	"tiny-unet"'
printf '{"shape": [12, 12], "operator": {"type": "none"}, "prior": {"type": "score_model", "model": "tiny-unet"}, "sampler": {"type": "ddrm", "steps": 2}, "num_samples": 2}' >"$T/sm.json"
(cd "$T/elsewhere" && SCORERECON_MODELS="$ROOT/tests/data" "$BIN" run "$T/sm.json" -o "$T/sm.out" --quiet 2>"$T/sm.err")
check "run: finds a model through SCORERECON_MODELS" valid_json "$T/sm.out"
if command -v make >/dev/null 2>&1 && [ -f "$ROOT/Makefile" ] && [ -x "$ROOT/build/scorerecon" ]; then
  make -s -C "$ROOT" install DESTDIR="$T/dest" BUILD="$(dirname "$BIN")" >"$T/inst" 2>&1
  installed() { [ -x "$T/dest/usr/local/bin/scorerecon" ] && [ -f "$T/dest/usr/local/share/scorerecon/models/fashion-mnist.safetensors" ]; }
  check "make install: binary and models in place" installed
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
