#!/bin/sh
# cli_test.sh BIN — end-to-end checks of the scorerecon binary: `run` from a file and from stdin, -o, --lists,
# exit statuses (0 ok, 2 invalid job or usage, 1 other failure), the one-line error, results that do not
# depend on --threads, fields supplied from .npy, PNG and BART .cfl/.hdr files (--observation, --mask, --kernel,
# --ground-truth; each bad file named with its option) and --out-dir (--out-format npy or cfl). Prints
# "cli: N passed, N failed"; exits non-zero on any failure.
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

# ---------------------------------------------------------------- fields from files, --out-dir

# Fixtures, written by plain python (struct, zlib, base64: no numpy): the examples' jobs cut to a few steps, the same
# jobs with the arrays left out, the arrays as .npy ('<f4', '<f8', '<c8') and PNG (8- and 16-bit gray), and bad files.
F="$T/files"
mkdir -p "$F"
if /usr/bin/python3 - "$ROOT/examples" "$F" <<'EOF'
import array, base64, json, struct, sys, zlib
ex, out = sys.argv[1], sys.argv[2]

def npy(name, descr, shape, raw, fortran=False, cut=0):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, fortran, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    b = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + raw
    open(out + "/" + name, "wb").write(b[:len(b) - cut])

def png(name, w, h, depth, ctype, samples, cut=0):  # samples: row-major ints; ctype 0 gray, 2 RGB, 3 palette
    per = {0: 1, 2: 3, 3: 1}[ctype]
    if depth == 16:
        rows = [struct.pack(">%dH" % (w * per), *samples[r * w * per:(r + 1) * w * per]) for r in range(h)]
    elif depth == 4:
        rows = [bytes((samples[r * w + 2 * i] << 4) | samples[r * w + 2 * i + 1] for i in range(w // 2)) for r in range(h)]
    else:
        rows = [bytes(samples[r * w * per:(r + 1) * w * per]) for r in range(h)]
    chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    b = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    if ctype == 3:
        b += chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255]))
    b += chunk(b"IDAT", zlib.compress(b"".join(b"\0" + r for r in rows))) + chunk(b"IEND", b"")
    open(out + "/" + name, "wb").write(b[:len(b) - cut])

def floats(a):  # an ARRAY's data as an array of float32 (complex: interleaved)
    return array.array("f", base64.b64decode(a["data"]))

def job(src, name, drop=(), drop_op=None, **set_):
    d = json.load(open(ex + "/" + src))
    d["sampler"] = {"type": "mala", "steps": 40, "burn_in": 10}
    d["num_samples"] = 2
    for k in drop:
        del d[k]
    if drop_op:
        del d["operator"][drop_op]
    d.update(set_)
    json.dump(d, open(out + "/" + name, "w"))
    return d

# inpaint: observation and ground truth as .npy, the mask as 8- and 16-bit PNG (0 or full scale: exactly 0 and 1)
d = job("inpaint.json", "inpaint.json")
job("inpaint.json", "inpaint_bare.json", drop=("observation", "ground_truth"), drop_op="mask")
y, m, gt = floats(d["observation"]), floats(d["operator"]["mask"]), floats(d["ground_truth"])
npy("y.npy", "<f4", [48, 48], y.tobytes())
npy("y64.npy", "<f8", [48, 48], array.array("d", y).tobytes())
npy("gt.npy", "<f4", [48, 48], gt.tobytes())
png("mask.png", 48, 48, 8, 0, [int(v) * 255 for v in m])
png("mask16.png", 48, 48, 16, 0, [int(v) * 65535 for v in m])
png("gt16.png", 48, 48, 16, 0, [min(65535, max(0, round(v * 65535))) for v in gt])
# mri: the complex observation as '<c8'; its real part as '<f4' (wrong for a Fourier operator)
d = job("mri.json", "mri.json")
job("mri.json", "mri_bare.json", drop=("observation",))
yc = floats(d["observation"])
npy("yc.npy", "<c8", [48, 48], yc.tobytes())
npy("yc_real.npy", "<f4", [48, 48], yc[0::2].tobytes())
# deblur: a 3 x 3 kernel as '<f8', and the same job with it written in as a float32 ARRAY
k = array.array("f", [1, 2, 1, 2, 4, 2, 1, 2, 1])
job("deblur.json", "deblur.json")
job("deblur.json", "deblur_k.json", operator={"type": "blur", "kernel": {
    "dtype": "float32", "shape": [3, 3], "data": base64.b64encode(k.tobytes()).decode()}})
npy("k.npy", "<f8", [3, 3], array.array("d", k).tobytes())
job("denoise.json", "denoise.json")
job("denoise.json", "denoise_mean.json", outputs=["mean"])
job("inpaint.json", "two_masks.json", operator=[{"type": "mask", "mask": d["operator"]["mask"]},
                                                 {"type": "fourier", "mask": d["operator"]["mask"]}])
# bad files
npy("small.npy", "<f4", [32, 32], bytes(4 * 32 * 32))
npy("big_endian.npy", ">f4", [48, 48], bytes(4 * 48 * 48))
npy("fortran.npy", "<f4", [48, 48], bytes(4 * 48 * 48), fortran=True)
npy("trunc.npy", "<f4", [48, 48], bytes(4 * 48 * 48), cut=100)
npy("int16.npy", "<i2", [48, 48], bytes(2 * 48 * 48))
npy("nan.npy", "<f4", [48, 48], struct.pack("<f", float("nan")) + bytes(4 * 48 * 48 - 4))
npy("huge.npy", "<f8", [48, 48], struct.pack("<d", 1e300) + bytes(8 * 48 * 48 - 8))
png("rgb.png", 48, 48, 8, 2, [0] * (3 * 48 * 48))
png("palette.png", 48, 48, 8, 3, [0] * (48 * 48))
png("gray4.png", 48, 48, 4, 0, [0] * (48 * 48))
png("trunc.png", 48, 48, 8, 0, list(range(48)) * 48, cut=30)
open(out + "/text.png", "w").write("not an image\n")
EOF
then
  ok
else
  bad "the file fixtures could not be written (/usr/bin/python3)"
fi
# same_result A B: the two results agree but for the seconds
same_result() { strip_seconds "$1" >"$1.s" && strip_seconds "$2" >"$2.s" && cmp -s "$1.s" "$2.s"; }

# the files supply exactly what the document would have held: the same result, bit for bit
run_bin "$F/o1" "$F/e1" run "$F/inpaint.json" --quiet
run_bin "$F/o2" "$F/e2" run "$F/inpaint_bare.json" --observation "$F/y.npy" --mask "$F/mask.png" \
  --ground-truth "$F/gt.npy" --quiet
check "--observation .npy, --mask .png, --ground-truth .npy exit 0" rc_is 0
check "--observation, --mask, --ground-truth: the result of the job that holds them" same_result "$F/o1" "$F/o2"
check "--ground-truth gives metrics" has "$F/o2" '"metrics":{"psnr":'
run_bin "$F/o3" "$F/e3" run "$F/inpaint.json" --observation "$F/y64.npy" --mask "$F/mask16.png" --quiet
check "a float64 .npy and a 16-bit PNG exit 0" rc_is 0
check "a float64 .npy and a 16-bit PNG: the same result (exact in float32)" same_result "$F/o1" "$F/o3"
run_bin "$F/o4" "$F/e4" run "$F/inpaint.json" --ground-truth "$F/gt16.png" --quiet
check "--ground-truth 16-bit PNG exits 0" rc_is 0
check "--ground-truth 16-bit PNG gives metrics" has "$F/o4" '"metrics":{"psnr":'
run_bin "$F/o5" "$F/e5" run "$F/mri.json" --quiet
run_bin "$F/o6" "$F/e6" run "$F/mri_bare.json" --observation "$F/yc.npy" --quiet
check "complex64 .npy for a Fourier operator exits 0" rc_is 0
check "complex64 .npy: the result of the job that holds it" same_result "$F/o5" "$F/o6"
run_bin "$F/o7" "$F/e7" run "$F/deblur_k.json" --quiet
run_bin "$F/o8" "$F/e8" run "$F/deblur.json" --kernel "$F/k.npy" --quiet
check "--kernel .npy exits 0" rc_is 0
check "--kernel: the result of the job that holds it" same_result "$F/o7" "$F/o8"
run_bin "$F/o9" "$F/e9" run - --observation "$F/y.npy" --quiet <"$F/inpaint.json"
check "a job on stdin takes files too" same_result "$F/o1" "$F/o9"

# --out-dir: the service's files, made in a new directory; mean.npy holds result.json's mean
run_bin "$F/o10" "$F/e10" run "$F/denoise.json" --out-dir "$F/od" --quiet
check "--out-dir exits 0" rc_is 0
check "--out-dir: nothing on stdout without -o" empty "$F/o10"
for f in result.json mean.npy std.npy samples.npy mean.png std.png; do
  check "--out-dir writes $f" test -s "$F/od/$f"
done
check "--out-dir: result.json is valid JSON with base64 ARRAYs" has "$F/od/result.json" '"mean":{"dtype":"float32"'
npy_is_json() { # npy_is_json NPY RESULT KEY: the .npy's data bytes are those of the result's base64 ARRAY
  /usr/bin/python3 -c '
import base64, json, struct, sys
b = open(sys.argv[1], "rb").read()
a = json.load(open(sys.argv[2]))[sys.argv[3]]
h = struct.unpack("<H", b[8:10])[0]
shape = tuple(int(x) for x in b[10:10 + h].decode().split("(")[1].split(")")[0].split(",") if x.strip())
sys.exit(0 if b[10 + h:] == base64.b64decode(a["data"]) and list(shape) == a["shape"] else 1)' "$@"
}
check "--out-dir: mean.npy equals the result's mean" npy_is_json "$F/od/mean.npy" "$F/od/result.json" mean
check "--out-dir: std.npy equals the result's std" npy_is_json "$F/od/std.npy" "$F/od/result.json" std
check "--out-dir: samples.npy equals the result's samples" npy_is_json "$F/od/samples.npy" "$F/od/result.json" samples
PNGCHECK=$(dirname "$BIN")/pngcheck
if [ -x "$PNGCHECK" ]; then
  check "--out-dir: mean.png is a 48 x 48 gray PNG from 0 to 255" [ "$("$PNGCHECK" "$F/od/mean.png")" = "48 48 0 255" ]
fi
run_bin "$F/o11" "$F/e11" run "$F/denoise.json" --out-dir "$F/od" -o "$F/od.json" --quiet
check "--out-dir with -o exits 0" rc_is 0
printf '\n' >"$F/nl"
cat "$F/od/result.json" "$F/nl" >"$F/od_nl.json"
check "--out-dir with -o: -o holds result.json (and a newline)" cmp -s "$F/od.json" "$F/od_nl.json"
run_bin "$F/o12" "$F/e12" run "$F/denoise_mean.json" --out-dir "$F/od" --quiet
check "--out-dir over an earlier result exits 0" rc_is 0
only_mean() { [ -s "$F/od/mean.npy" ] && [ ! -e "$F/od/std.npy" ] && [ ! -e "$F/od/std.png" ] && [ ! -e "$F/od/samples.npy" ]; }
check "--out-dir: an earlier result's files that this one lacks are removed" only_mean
: >"$F/a-file"
t0=$(date +%s)
run_bin "$F/o13" "$F/e13" run "$T/long.json" --out-dir "$F/a-file" --quiet
check "--out-dir naming a file exits 1" rc_is 1
check "--out-dir naming a file: checked before the run" [ $(($(date +%s) - t0)) -lt 10 ]
check "--out-dir naming a file: one line naming it" one_error "$F/e13" "cannot write to --out-dir $F/a-file: Not a directory"
run_bin "$F/o14" "$F/e14" run "$F/denoise.json" --out-dir "$F/no/such" --quiet
check "--out-dir under a missing directory exits 1" rc_is 1
check "--out-dir under a missing directory: named" one_error "$F/e14" "cannot write to --out-dir $F/no/such"

# bad files: exit 2 and one line naming the option and the file (a missing file: exit 1)
bad_file() { # bad_file NAME JOB OPTION FILE MESSAGE
  run_bin "$F/ob" "$F/eb" run "$F/$2" "$3" "$F/$4" --quiet
  check "$1 exits 2" rc_is 2
  check "$1: one line naming $3" one_error "$F/eb" "error: $3 $F/$4: $5"
  check "$1: nothing on stdout" empty "$F/ob"
}
bad_file "a shape mismatch" denoise.json --observation small.npy "shape [32,32] does not match operator output [48,48]"
bad_file "a mask of another shape" inpaint.json --mask small.npy "shape [32,32] does not match the image shape [48,48]"
bad_file "a ground truth of another shape" denoise.json --ground-truth small.npy \
  "shape [32,32] does not match the image shape [48,48]"
bad_file "a big-endian .npy" denoise.json --observation big_endian.npy "dtype '>f4' is big-endian"
bad_file "a Fortran-ordered .npy" denoise.json --observation fortran.npy "fortran_order is True"
bad_file "a truncated .npy" denoise.json --observation trunc.npy "truncated: shape (48, 48) of '<f4' needs 9216 bytes"
bad_file "an int16 .npy" denoise.json --observation int16.npy "dtype '<i2' is not read"
bad_file "a NaN in a .npy" denoise.json --ground-truth nan.npy "element 0 is not finite"
bad_file "a float64 beyond float32" denoise.json --observation huge.npy "element 0 (1e+300) is beyond float32's range"
bad_file "a real observation for a Fourier operator" mri.json --observation yc_real.npy \
  "holds real values, and the operator's output is complex"
bad_file "a complex observation for a real operator" denoise.json --observation yc.npy "holds complex values"
bad_file "an RGB PNG" inpaint.json --mask rgb.png "not an 8- or 16-bit grayscale PNG (it is 8-bit RGB)"
bad_file "a palette PNG" inpaint.json --mask palette.png "not an 8- or 16-bit grayscale PNG (it is 8-bit palette)"
bad_file "a 4-bit PNG" inpaint.json --mask gray4.png "not an 8- or 16-bit grayscale PNG (it is 4-bit grayscale)"
bad_file "a truncated PNG" denoise.json --ground-truth trunc.png "truncated"
bad_file "text named .png" denoise.json --ground-truth text.png "not a PNG file"
bad_file "--mask for an identity operator" denoise.json --mask mask.png \
  "the job's operator (identity) takes no mask: mask, fourier and sense operators do"
bad_file "--kernel for a mask operator" inpaint.json --kernel k.npy "the job's operator (mask) takes no kernel"
bad_file "--mask with two operators that take one" two_masks.json --mask mask.png \
  "2 operators of the job take a mask (operator[0], operator[1])"
run_bin "$F/o15" "$F/e15" run "$F/denoise.json" --observation "$F/no-such.npy"
check "a missing file exits 1" rc_is 1
check "a missing file: one line naming the option" one_error "$F/e15" "error: --observation $F/no-such.npy: cannot read"
run_bin "$F/o16" "$F/e16" run - --observation - <"$F/denoise.json"
check "stdin for two inputs exits 2" rc_is 2
run_bin "$F/o17" "$F/e17" run "$F/denoise.json" --observation
check "--observation without a file exits 2" rc_is 2
run_bin "$F/o18" "$F/e18" run --help
check "run --help names the file options" has "$F/o18" "--observation FILE, --mask FILE, --kernel FILE, --sensitivities FILE, --ground-truth FILE"
check "run --help names --out-dir" has "$F/o18" "--out-dir DIR"

# ---------------------------------------------------------------- BART .cfl/.hdr pairs

# Written by numpy as BART does: an image of ours [h, w] is BART's [X, Y] = [w, h], stored column-major (order "F":
# x fastest), so the bytes equal the row-major [h, w]. The jobs and .npy files above are the reference.
C="$F/cfl"
mkdir -p "$C"
if /usr/bin/python3 - "$F" "$C" <<'EOF'
import sys
import numpy as np
f, c = sys.argv[1], sys.argv[2]

def cfl(name, a, dims=None, hdr=None, cut=0, extra=b""):  # a: our row-major array
    b = np.asarray(a).T  # BART's order: the dimensions reversed
    data = b.astype("<c8").ravel(order="F").tobytes()
    if dims is None:
        dims = list(b.shape) + [1] * (16 - b.ndim)
    open(c + "/" + name + ".hdr", "w").write(hdr if hdr is not None else
        "# Dimensions\n" + " ".join(map(str, dims)) + " \n# Command\nnumpy\n# Creator\ncli_test.sh\n")
    open(c + "/" + name + ".cfl", "wb").write(data[:len(data) - cut] + extra)

y, gt, yc = np.load(f + "/y.npy"), np.load(f + "/gt.npy"), np.load(f + "/yc.npy")
assert np.array_equal(np.asarray(y).T.astype("<c8").ravel(order="F").real, y.ravel())
cfl("y", y)
cfl("gt", gt, dims=[48, 48])             # a short header: 2 dimensions
cfl("yc", yc)
cfl("yc_re", yc.real)                   # imaginary parts 0, for a complex field
k = np.arange(1, 10, dtype=np.float32).reshape(3, 3)  # not symmetric: a transposition would show
np.save(f + "/kasym.npy", k)
cfl("k", k)
cfl("yi", y + 1e-3j)                    # not real
cfl("small", np.zeros((32, 32)))
cfl("trunc", y, cut=8)
cfl("long", y, extra=b"\0" * 8)
cfl("nodims", y, hdr="# Command\nx\n")
cfl("zero", y, hdr="# Dimensions\n48 0\n")
cfl("many", y, hdr="# Dimensions\n" + "1 " * 17 + "\n")
cfl("words", y, hdr="# Dimensions\n48 forty-eight\n")
cfl("huge", y, hdr="# Dimensions\n100000 100000 100000\n")
EOF
then
  ok
else
  bad "the .cfl fixtures could not be written (/usr/bin/python3 with numpy)"
fi
run_bin "$C/o1" "$C/e1" run "$F/inpaint.json" --observation "$C/y.cfl" --mask "$F/mask.png" --ground-truth "$C/gt.hdr" \
  --quiet
check ".cfl: --observation BASE.cfl, --ground-truth BASE.hdr exit 0" rc_is 0
check ".cfl: the result of the job that holds them (same as .npy)" same_result "$F/o1" "$C/o1"
run_bin "$C/o2" "$C/e2" run "$F/inpaint_bare.json" --observation "$C/y" --mask "$F/mask.png" --ground-truth "$C/gt" \
  --quiet
check ".cfl: a pair given as BASE" same_result "$F/o2" "$C/o2"
run_bin "$C/o3" "$C/e3" run "$F/mri_bare.json" --observation "$C/yc.cfl" --quiet
check ".cfl: a complex observation for a Fourier operator exits 0" rc_is 0
check ".cfl: a complex observation: the result of the job that holds it" same_result "$F/o5" "$C/o3"
run_bin "$C/o4" "$C/e4" run "$F/mri_bare.json" --observation "$C/yc_re.cfl" --quiet
check ".cfl: imaginary parts 0 are complex where the field is (Fourier observation)" rc_is 0
run_bin "$C/o5" "$C/e5" run "$F/deblur.json" --kernel "$F/kasym.npy" --quiet
run_bin "$C/o6" "$C/e6" run "$F/deblur.json" --kernel "$C/k.cfl" --quiet
check ".cfl: an asymmetric --kernel exits 0" rc_is 0
check ".cfl: an asymmetric --kernel reads as its .npy (BART [X, Y] is our [Y, X])" same_result "$C/o5" "$C/o6"
# bad pairs, as bad files above (C is $F/cfl)
bad_file ".cfl: a real field with an imaginary part" denoise.json --observation cfl/yi.cfl \
  "holds complex values (an imaginary part is not 0)"
bad_file ".cfl: a complex mask" inpaint.json --mask cfl/yi.cfl "holds complex values (an imaginary part is not 0)"
bad_file ".cfl: a shape mismatch" denoise.json --observation cfl/small.cfl \
  "shape [32,32] does not match operator output [48,48]"
bad_file ".cfl: a truncated .cfl" denoise.json --observation cfl/trunc.cfl \
  ".cfl: 18424 bytes, where the header's 2304 complex64 values take 18432 (truncated)"
bad_file ".cfl: an oversized .cfl" denoise.json --ground-truth cfl/long.cfl ".cfl: 18440 bytes"
bad_file ".cfl: a header without dimensions" denoise.json --observation cfl/nodims.cfl ".hdr: no \"# Dimensions\""
bad_file ".cfl: a size of 0" denoise.json --observation cfl/zero.cfl ".hdr: dimension 1 is 0"
bad_file ".cfl: 17 dimensions" denoise.json --observation cfl/many.cfl ".hdr: more than 16 dimensions"
bad_file ".cfl: a word for a size" denoise.json --observation cfl/words.cfl ".hdr: the dimensions line holds 'f'"
bad_file ".cfl: dimensions over the limit" denoise.json --observation cfl/huge.cfl \
  ".hdr: the dimensions hold more than the limit"
run_bin "$C/o7" "$C/e7" run "$F/denoise.json" --observation "$C/no-such.cfl" --quiet
check ".cfl: a missing pair exits 1" rc_is 1
check ".cfl: a missing pair: named" one_error "$C/e7" "error: --observation $C/no-such.cfl: .hdr: cannot read"

# --out-format cfl: BART pairs instead of .npy, equal to result.json's arrays; samples [w, h, 1, ..., S]
run_bin "$C/o8" "$C/e8" run "$F/denoise.json" --out-dir "$F/od" --out-format cfl --quiet
check "--out-format cfl exits 0" rc_is 0
for f in result.json mean.cfl mean.hdr std.cfl std.hdr samples.cfl samples.hdr mean.png std.png; do
  check "--out-format cfl writes $f" test -s "$F/od/$f"
done
no_npy() { [ ! -e "$F/od/mean.npy" ] && [ ! -e "$F/od/std.npy" ] && [ ! -e "$F/od/samples.npy" ]; }
check "--out-format cfl: no .npy files (an earlier run's are removed)" no_npy
cfl_is_json() { # cfl_is_json DIR NAME DIMS: NAME.cfl is result.json's array, real, and NAME.hdr lists DIMS
  /usr/bin/python3 -c '
import base64, json, sys
import numpy as np
d, name, want = sys.argv[1], sys.argv[2], sys.argv[3]
a = json.load(open(d + "/result.json"))[name]
dims = [int(x) for x in open(d + "/" + name + ".hdr").read().split("\n")[1].split()]
v = np.fromfile(d + "/" + name + ".cfl", dtype="<c8").reshape(dims, order="F")
ours = np.frombuffer(base64.b64decode(a["data"]), dtype="<f4").reshape(a["shape"])
# BART order is ours reversed: samples [S, h, w] is [w, h, S] (S at dimension 15 after the 1s squeezed out)
bart = ours.T
ok = " ".join(map(str, dims)) == want and np.all(v.imag == 0) and np.array_equal(v.real.squeeze(), bart.squeeze())
sys.exit(0 if ok else 1)' "$@"
}
ones13="1 1 1 1 1 1 1 1 1 1 1 1 1"
check "--out-format cfl: mean equals the result's mean" cfl_is_json "$F/od" mean "48 48 $ones13 1"
check "--out-format cfl: std equals the result's std" cfl_is_json "$F/od" std "48 48 $ones13 1"
check "--out-format cfl: samples, the sample index last" cfl_is_json "$F/od" samples "48 48 $ones13 2"
if [ -x /usr/bin/bart ]; then
  check "--out-format cfl: bart reads samples (dimension 15 = 2 samples)" \
    [ "$(/usr/bin/bart show -d 15 "$F/od/samples" 2>/dev/null)" = 2 ]
fi
run_bin "$C/o9" "$C/e9" run "$F/denoise.json" --out-dir "$F/od" --quiet
npy_again() { [ ! -e "$F/od/mean.cfl" ] && [ ! -e "$F/od/samples.hdr" ] && [ -s "$F/od/mean.npy" ]; }
check "--out-format npy over a cfl result: no .cfl/.hdr left" npy_again
run_bin "$C/o10" "$C/e10" run "$F/denoise.json" --out-format cfl --quiet
check "--out-format without --out-dir exits 2" rc_is 2
run_bin "$C/o11" "$C/e11" run "$F/denoise.json" --out-dir "$F/od" --out-format mat --quiet
check "--out-format mat exits 2" rc_is 2
check "--out-format mat: says npy or cfl" has "$C/e11" "npy or cfl"

# ---------------------------------------------------------------- complex images (image_dtype complex64)
# a 3-coil SENSE job: complex mean and samples ('<c8'), real std, |mean| as the PNG, metrics from a complex
# ground truth given as a '<c8' .npy file
/usr/bin/python3 - "$F" <<'PY'
import base64, json, sys
import numpy as np
d = sys.argv[1]
r = np.random.default_rng(5)
h, w, C = 6, 8, 3
x = (r.normal(size=(h, w)) + 1j * r.normal(size=(h, w))).astype("<c8")
S = (r.normal(size=(C, h, w)) + 1j * r.normal(size=(C, h, w))).astype("<c8")
y = np.stack([np.fft.fftshift(np.fft.fft2(S[c] * x, norm="ortho")) for c in range(C)]).astype("<c8")
arr = lambda a: {"dtype": "complex64", "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode()}
np.save(d + "/gt_c8.npy", x)
json.dump({"shape": [h, w], "image_dtype": "complex64", "noise": {"sigma": 0.1},
           "operator": {"type": "sense", "sensitivities": arr(S), "mask": {"random": {"fraction": 1}}},
           "observation": arr(y), "prior": {"type": "gaussian", "std": 1},
           "sampler": {"type": "mala", "steps": 300}, "num_samples": 2, "seed": 1,
           "outputs": ["mean", "std", "samples"]}, open(d + "/sense.json", "w"))
PY
run_bin "$F/o20" "$F/e20" run "$F/sense.json" --ground-truth "$F/gt_c8.npy" --out-dir "$F/oc" --quiet
check "a complex SENSE job exits 0" rc_is 0
cplx_files() {
  /usr/bin/python3 -c '
import json, sys
import numpy as np
d = sys.argv[1]
r = json.load(open(d + "/result.json"))
m, s, S = np.load(d + "/mean.npy"), np.load(d + "/std.npy"), np.load(d + "/samples.npy")
ok = (m.dtype == np.complex64 and m.shape == (6, 8) and s.dtype == np.float32 and s.shape == (6, 8)
      and S.dtype == np.complex64 and S.shape == (2, 6, 8) and r["mean"]["dtype"] == "complex64"
      and r["std"]["dtype"] == "float32" and r["samples"]["dtype"] == "complex64"
      and r["metrics"]["nrmse"] < 0.2)
sys.exit(0 if ok else 1)' "$1"
}
check "complex job: mean and samples complex64, std float32, metrics against a complex ground truth" cplx_files "$F/oc"
check "complex job: mean.npy equals the result's mean" npy_is_json "$F/oc/mean.npy" "$F/oc/result.json" mean
check "complex job: mean.png written" test -s "$F/oc/mean.png"
# the coil maps and the observation as BART pairs ([X, Y, 1, C], column-major), the job without them: the same result
/usr/bin/python3 - "$F" <<'PY'
import base64, json, sys
import numpy as np
d = sys.argv[1]
j = json.load(open(d + "/sense.json"))
def pair(name, a):  # our row-major [C, h, w] is BART's [w, h, 1, C]: the same bytes
    C, h, w = a.shape
    open(d + "/" + name + ".hdr", "w").write("# Dimensions\n%d %d 1 %d 1\n" % (w, h, C))
    a.astype("<c8").tofile(d + "/" + name + ".cfl")
for key, name in (("sensitivities", "sens_bart"),):
    a = j["operator"][key]
    pair(name, np.frombuffer(base64.b64decode(a["data"]), "<c8").reshape(a["shape"]))
    del j["operator"][key]
a = j["observation"]
pair("y_bart", np.frombuffer(base64.b64decode(a["data"]), "<c8").reshape(a["shape"]))
del j["observation"]
json.dump(j, open(d + "/sense_nodata.json", "w"))
PY
run_bin "$F/o22" "$F/e22" run "$F/sense_nodata.json" --sensitivities "$F/sens_bart" --observation "$F/y_bart.cfl" \
  --ground-truth "$F/gt_c8.npy" --out-dir "$F/oc2" --quiet
check "SENSE from BART pairs (--sensitivities, --observation): exits 0" rc_is 0
check "SENSE from BART pairs: the same mean as from the document" cmp -s "$F/oc/mean.npy" "$F/oc2/mean.npy"
run_bin "$F/o23" "$F/e23" run "$F/denoise.json" --sensitivities "$F/sens_bart"
check "--sensitivities on a job without sense exits 2" rc_is 2
check "--sensitivities without sense: says which operators take it" has "$F/e23" "sense operators"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["image_dtype"]="float32"; json.dump(d, open(sys.argv[2], "w"))' \
  "$F/sense.json" "$F/sense_real.json"
run_bin "$F/o21" "$F/e21" run "$F/sense_real.json"
check "sense on a real image exits 2" rc_is 2
check "sense on a real image: one line naming image_dtype" one_error "$F/e21" "set image_dtype to \"complex64\""

# FFT plans: estimate is the default's bits; tuned from one wisdom file gives the same bits twice (the first run
# measures and writes the file); a wisdom file FFTW cannot read is refused, naming it
W=$T/fftw
mkdir -p "$W"
run_bin "$W/o1" "$W/e1" run "$ROOT/examples/mri.json" --quiet --out-dir "$W/d0"
run_bin "$W/o2" "$W/e2" run "$ROOT/examples/mri.json" --quiet --fft-plan estimate --out-dir "$W/de"
check "--fft-plan estimate exits 0" rc_is 0
check "--fft-plan estimate: the default's bits" cmp -s "$W/d0/samples.npy" "$W/de/samples.npy"
run_bin "$W/o3" "$W/e3" run "$ROOT/examples/mri.json" --quiet --fft-wisdom "$W/wisdom" --out-dir "$W/t1"
check "--fft-wisdom FILE (tuned) exits 0" rc_is 0
check "--fft-wisdom FILE: the file is written" test -s "$W/wisdom"
run_bin "$W/o4" "$W/e4" run "$ROOT/examples/mri.json" --quiet --fft-plan tuned --fft-wisdom "$W/wisdom" --out-dir "$W/t2"
check "tuned twice with one wisdom file: the same samples" cmp -s "$W/t1/samples.npy" "$W/t2/samples.npy"
check "tuned twice with one wisdom file: the same mean" cmp -s "$W/t1/mean.npy" "$W/t2/mean.npy"
echo "(garbage" >"$W/bad"
run_bin "$W/o5" "$W/e5" run "$ROOT/examples/mri.json" --quiet --fft-wisdom "$W/bad"
check "a corrupt wisdom file exits 2" rc_is 2
check "a corrupt wisdom file: one line naming it" one_error "$W/e5" "$W/bad is not FFTW single-precision wisdom"
run_bin "$W/o6" "$W/e6" run "$ROOT/examples/mri.json" --quiet --fft-plan tuned
check "--fft-plan tuned without --fft-wisdom exits 2" rc_is 2
run_bin "$W/o7" "$W/e7" fft-wisdom --fft-wisdom "$W/wisdom" --sizes 16,16x24 --complex
check "fft-wisdom --sizes exits 0" rc_is 0
check "fft-wisdom --sizes: measures a new size" has "$W/o7" "16x24: measured and added"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
