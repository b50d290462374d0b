#!/bin/sh
# lint_openapi.sh — openapi.yaml under a standard third-party linter: Redocly CLI's minimal ruleset, errors and
# warnings both failing. Redocly is an npm package, never downloaded by the build or the tests: where `redocly`
# is not on PATH (install it with `npm i -g @redocly/cli`) this says so and skips. Prints "lint: N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
if ! command -v redocly >/dev/null 2>&1; then
  echo "lint: skipped: redocly (Redocly CLI, npm @redocly/cli) is not installed"
  echo "lint: 0 passed, 0 failed"
  exit 0
fi
out=$(redocly lint --extends minimal openapi.yaml 2>&1)
rc=$?
if [ $rc -eq 0 ] && ! printf '%s' "$out" | grep -qE 'You have [0-9]+ warning'; then
  echo "lint: openapi.yaml is clean under Redocly's minimal ruleset ($(redocly --version 2>/dev/null))"
  echo "lint: 1 passed, 0 failed"
else
  printf '%s\n' "$out" | tail -40
  echo "lint: 0 passed, 1 failed"
  exit 1
fi
