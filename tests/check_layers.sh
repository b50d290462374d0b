#!/bin/sh
# tests/check_layers.sh — every #include stays within its layer (README "Layout"): solver sees include/ and
# solver/; format sees include/ and format/; the job layer (job_parse.c, models.c, result_write.c and their
# headers) sees include/, format/ and its own headers; the service sees all. Benchmarks see include/, format/
# and bench/ (bench/speed.c also solver/, for the products it measures against BLAS); unit tests never see the service. No layer below the service includes libmicrohttpd, SQLite or libpq,
# and the solver includes neither cJSON nor libpng. Prints "layers: N passed, N failed".
cd "$(dirname "$0")/.."
pass=0; fail=0
JOB_FILES="server/job_parse.c server/models.c server/result_write.c server/options.c server/sha256.c server/sha256.h server/job.h server/models.h server/options.h server/config.h"
SERVICE_HEADERS="ctx.h store.h store_impl.h"

# check FILE "allowed dirs" "forbidden system headers (regex)" [extra forbidden quoted headers]
check() {
  file=$1; dirs=$2; banned_sys=$3; banned_local=${4:-}
  ok=1
  for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file"); do
    found=0
    for d in $dirs; do [ -f "$d/$h" ] && found=1; done
    for b in $banned_local; do [ "$h" = "$b" ] && found=0; done
    if [ $found -eq 0 ]; then
      echo "FAIL: $file includes \"$h\", which is not in its layer ($dirs)"
      ok=0
    fi
  done
  if [ -n "$banned_sys" ] && grep -En "^[[:space:]]*#[[:space:]]*include[[:space:]]*<($banned_sys)>" "$file" >/dev/null; then
    echo "FAIL: $file includes $(grep -Eo "<($banned_sys)>" "$file" | head -n 1), which its layer must not use"
    ok=0
  fi
  if [ $ok -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}

for f in solver/*.c solver/*.h include/*.h; do
  check "$f" "include solver" "cjson/cJSON.h|microhttpd.h|sqlite3.h|libpq-fe.h|png.h"
done
for f in format/*.c format/*.h; do
  check "$f" "include format" "microhttpd.h|sqlite3.h|libpq-fe.h"
done
for f in $JOB_FILES; do
  check "$f" "include format server" "microhttpd.h|sqlite3.h|libpq-fe.h" "$SERVICE_HEADERS"
done
for f in bench/*.c bench/*.h; do
  # bench/speed.c alone also measures a private kernel of the solver (nn_gemm.h) against BLAS
  if [ "$f" = bench/speed.c ]; then dirs="include format bench solver"; else dirs="include format bench"; fi
  check "$f" "$dirs" "microhttpd.h|sqlite3.h|libpq-fe.h"
done
for f in tests/*.c tests/*.h tests/fuzz/*.c; do
  check "$f" "include solver format server tests" "microhttpd.h|sqlite3.h|libpq-fe.h" "$SERVICE_HEADERS"
done
# the service's own files may include anything of the layers below and the service
for f in server/*.c server/*.h; do
  case " $JOB_FILES " in *" $f "*) continue ;; esac
  check "$f" "include format server" ""
done
echo "layers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
