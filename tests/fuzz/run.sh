#!/usr/bin/env bash
# run.sh SECONDS [TARGET...] — build the fuzz targets and run each for SECONDS on one core,
# starting from the committed seeds (corpus/<target>/) and the regression inputs, growing a
# working corpus in corpus-work/<target>/ (git-ignored). A crash writes its input to
# crash-work/<target>/ and fails the script: copy it to regressions/<target>/ once fixed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:?usage: run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(csv samples axes profile compare safetensors gpt2_load offload)
out=${FUZZ_BUILD:-$here/../../build-fuzz}
"$here/build.sh" "$out" >/dev/null
status=0
for t in "${targets[@]}"; do
  work="$here/corpus-work/$t" crash="$here/crash-work/$t"
  mkdir -p "$work" "$crash" "$here/corpus/$t" "$here/regressions/$t"
  log="$out/fuzz_$t.log"
  if nice "$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$crash/" "$work" "$here/corpus/$t" \
       "$here/regressions/$t" >"$log" 2>&1; then
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz $t: ok, ${runs:-?} executions in ${secs} s"
  else
    echo "fuzz $t: FAILED (see $log, inputs in $crash)"
    tail -30 "$log"
    status=1
  fi
done
exit $status
