#!/bin/sh
# tests/check_options.sh BIN — docs/service.md's option table says what the binary's one table of options
# (server/options.c) says: every row of `BIN serve --help-table` (flag, variable, default, range) is in the docs
# verbatim, and the docs name no option the binary lacks. Prints "options: N passed, N failed".
BIN=${1:-build/scorerecon}
cd "$(dirname "$0")/.."
DOC=docs/service.md
pass=0; fail=0
rows=$("$BIN" serve --help-table) || { echo "FAIL: $BIN serve --help-table"; echo "options: 0 passed, 1 failed"; exit 1; }
while IFS= read -r row; do
  [ -n "$row" ] || continue
  if grep -qF -- "$row" "$DOC"; then pass=$((pass + 1)); else
    echo "FAIL: $DOC lacks the row (or its default or range differ): $row"; fail=$((fail + 1)); fi
done <<EOT
$rows
EOT
for flag in $(grep -oE '^\| `--[a-z-]+' "$DOC" | sed 's/^| `//'); do
  [ "$flag" = "--port-file" ] && continue
  if printf '%s\n' "$rows" | grep -qF -- "| \`$flag "; then pass=$((pass + 1)); else
    echo "FAIL: $DOC documents $flag, which serve does not have"; fail=$((fail + 1)); fi
done
echo "options: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
