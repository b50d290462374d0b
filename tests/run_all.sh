#!/bin/sh
# Runs every test suite and prints one closing line "N passed, N failed".
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
total_p=0; total_f=0
run_suite() {
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[a-z_]*:? ?[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  p=$(printf '%s' "$line" | sed -E 's/.*([0-9]+) passed.*/\1/; s/[^0-9]//g')
  p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
  f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
  [ -n "$p" ] || p=0
  [ -n "$f" ] || f=1
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
  total_p=$((total_p + p)); total_f=$((total_f + f))
}
run_suite "$BUILD/test_all"
# the generator's vector paths must give the same bits as the scalar reference
run_suite env SR_RNG_PATH=scalar "$BUILD/test_all" rng_
run_suite env SR_RNG_PATH=avx2 "$BUILD/test_all" rng_
run_suite sh tests/cli_test.sh "$BUILD/scorerecon"
# the HTTP service: end to end, contract (openapi.yaml), durability, robustness — Debian's python3 with
# python3-jsonschema and python3-yaml (scripts/install-deps.sh installs them); missing, it counts as a failure
if /usr/bin/python3 -c 'import jsonschema, yaml' >/dev/null 2>&1; then
  run_suite /usr/bin/python3 tests/test_service.py "$BUILD/scorerecon"
else
  echo "service: /usr/bin/python3 cannot import jsonschema and yaml: run scripts/install-deps.sh"
  echo "service: 0 passed, 1 failed"
  total_f=$((total_f + 1))
fi
# the Python client (clients/python) and examples/pipeline.py against real servers: numpy, pip (python3-numpy,
# python3-pip from scripts/install-deps.sh)
run_suite /usr/bin/python3 tests/test_client.py "$BUILD/scorerecon"
# the PostgreSQL store: several nodes on one throw-away cluster (claims, leases, a killed and a frozen node); where
# the PostgreSQL binaries are missing or the cluster cannot start it prints "pg: SKIPPED: ..." and counts nothing
run_suite /usr/bin/python3 tests/test_pg.py "$BUILD/scorerecon"
# every #include within its layer (README "Layout")
run_suite sh tests/check_layers.sh
run_suite sh tests/check_options.sh "$BUILD/scorerecon"
run_suite /usr/bin/python3 tests/check_cycles.py "$BUILD"
# the web page (GET /) in headless Chromium, driven over the DevTools protocol; where chromium is missing or cannot
# start, the browser part prints "web: SKIPPED: ..." and counts nothing (scripts/install-deps.sh installs chromium)
run_suite /usr/bin/python3 tests/test_web.py "$BUILD/scorerecon"
# openapi.yaml under a third-party linter, where Redocly CLI is installed (skipped with a message elsewhere)
run_suite sh tests/lint_openapi.sh
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
