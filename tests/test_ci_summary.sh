#!/usr/bin/env bash
# test_ci_summary.sh SOURCE_DIR — run_all.sh's summary line, which CI reads, on made-up logs:
# meson's "Ok: / Fail: / Unexpected Pass: / Timeout: / Skipped:" blocks, the fuzz log, and the
# format check's "Fail: 1 (format: ...)", whose words after the count must not hide it.
set -uo pipefail
src=$1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ab-summary.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=/dev/null
source <(sed -n '/^summarize() {/,/^}/p' "$src/run_all.sh")
declare -F summarize >/dev/null || { echo "FAIL: no summarize() in run_all.sh"; exit 1; }

printf 'Ok:                 47  \nExpected Fail:      1   \nFail:               2   \nUnexpected Pass:    1   \nSkipped:            3   \nTimeout:            1   \n' >"$tmp/meson.log"
printf 'Ok: 8\nFail: 0\n' >"$tmp/fuzz.log"
printf 'Ok: 1 (format)\n' >"$tmp/format-ok.log"
printf 'Fail: 1 (format: run clang-format -i on the files above)\n' >"$tmp/format-bad.log"

check() { # WANT_LINE WANT_RC LOG...
  local want=$1 want_rc=$2 got rc
  shift 2
  got=$(summarize "$@")
  rc=$?
  [ "$got" = "$want" ] || fail "summarize $*: '$got', want '$want'"
  [ "$rc" -eq "$want_rc" ] || fail "summarize $*: exit $rc, want $want_rc"
}
check "8 passed, 0 failed, 0 skipped" 0 "$tmp/fuzz.log"
check "9 passed, 0 failed, 0 skipped" 0 "$tmp/fuzz.log" "$tmp/format-ok.log"
check "8 passed, 1 failed, 0 skipped" 1 "$tmp/fuzz.log" "$tmp/format-bad.log"
check "55 passed, 4 failed, 3 skipped" 1 "$tmp/meson.log" "$tmp/fuzz.log"
check "55 passed, 5 failed, 3 skipped" 1 "$tmp/meson.log" "$tmp/fuzz.log" "$tmp/format-bad.log"

[ "$fails" -eq 0 ] && echo "ci summary: ok"
exit $((fails != 0))
