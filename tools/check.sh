#!/usr/bin/env bash
# tools/check.sh — "is this node healthy, and is accelbench right here?" in one command
# (./run_all.sh check). It builds, runs every code path of every workload on every device found
# with verification only (`accelbench run --check`), then one speed case per path at a size that
# fills each GPU, and prints a compact PASS/FAIL table. Exit status 0 only when nothing failed.
#
# Stages (expected time on one H100/H200 with 16 cores: build ~90 s, host tests ~10 s, check
# ~60-90 s, speed ~120-150 s; about 5 minutes in all, CHECK_BUDGET_S caps the speed stage):
#   deps     the Debian libraries, or the .offline-deps bundle (tools/offline-deps: fetch it on a
#            machine with apt and carry it) where the machine cannot install packages
#   build    meson + ninja into BUILD_DIR (default build-check), CUDA where nvcc is found, only
#            the SASS of the GPU that is here (plus PTX) to keep the build short
#   host     the host-side CUDA tests (meson test --suite cuda)
#   check    accelbench run --check on every device: each case set up, verified, torn down
#   speed    per CUDA device one case per path at a size that fills it (NVML energy where it
#            exists), the CPU's quick ceilings; rows read against the ceilings just measured
# Output: CHECK_OUT (default results/check-<host>-<utc>/), one folder per stage, and
# summary.txt; with $OUT set (a folder), a tarball of it is copied there.
# Knobs: CHECK_BUDGET_S (default 420: the speed stage stops starting cases past it),
# CHECK_TIMEOUT_S (default 480: the check stage's limit), BUILD_DIR, SKIP_BUILD=1, CHECK_SPEED=0
# (verification only).
set -uo pipefail
cd "$(dirname "$0")/.."

T0=$(date +%s)
BUDGET=${CHECK_BUDGET_S:-420}
left() { echo $((BUDGET - ($(date +%s) - T0))); }
say() { printf '[%3ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
LINES=() # "stage|PASS/FAIL/WARN/SKIP|detail"
FAILED=0
record() {
  LINES+=("$1|$2|$3")
  [ "$2" = FAIL ] && FAILED=1
  return 0
}

RES=${CHECK_OUT:-results/check-$(hostname)-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RES"
BUILD_DIR=${BUILD_DIR:-build-check}
BIN=$BUILD_DIR/bench/accelbench
export PATH="/usr/local/cuda/bin:$PATH"
NPROC=$(nproc 2>/dev/null || echo 2)

# ------------------------------------------------------------------ deps
have_libs() {
  command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libcjson gsl 2>/dev/null &&
    printf '#include <csv.h>\n#include <oneapi/dnnl/dnnl.h>\nint main(void){return 0;}\n' |
    ${CC:-cc} -x c - -o /dev/null -lcsv -ldnnl >/dev/null 2>&1
}
if ! have_libs && [ -f .offline-deps/unpack.sh ]; then
  say "deps: system libraries missing, using the .offline-deps bundle"
  eval "$(bash .offline-deps/unpack.sh)"
fi
if ! have_libs && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  ./run_all.sh deps >/dev/null 2>&1 || true
fi
# Debian's libdnnl links libOpenCL.so.1; a GPU image without the ICD loader has the CUDA
# toolkit's copy.
if ! ldconfig -p 2>/dev/null | grep -q 'libOpenCL.so.1'; then
  ocl=$(find /usr/local/cuda/ /usr/local/cuda*/targets /usr/lib /usr/local/nvidia -name 'libOpenCL.so.1' \
    2>/dev/null | head -1)
  [ -n "$ocl" ] && export LD_LIBRARY_PATH="$(dirname "$ocl"):${LD_LIBRARY_PATH:-}"
fi
MESON=$(command -v meson || true)
[ -z "$MESON" ] && python3 -c 'import mesonbuild' 2>/dev/null && MESON="python3 -m mesonbuild.mesonmain"
missing=""
[ -z "$MESON" ] && missing="$missing meson"
command -v ninja >/dev/null 2>&1 || missing="$missing ninja"
have_libs || missing="$missing libcjson/gsl/csv/dnnl"
if [ -n "$missing" ]; then
  record deps FAIL "missing:$missing (install them, or bring an .offline-deps bundle)"
else
  record deps PASS "$($MESON --version 2>/dev/null | sed 's/^/meson /')$(command -v nvcc >/dev/null && echo ", $(nvcc --version | tail -1 | sed 's/Build //')")"
fi

# ------------------------------------------------------------------ build
GPU_CC=""
command -v nvidia-smi >/dev/null 2>&1 &&
  GPU_CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader -i 0 2>/dev/null | head -1 | tr -d '.')
if [ -n "$missing" ]; then
  :
elif [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$BIN" ]; then
  record build PASS "reused $BUILD_DIR"
else
  say "build: $BUILD_DIR ($NPROC jobs)"
  b0=$(date +%s)
  opts=(-Dbuildtype=release -Dtests=enabled -Dcuda=auto -Dpapi=auto -Dplots=auto -Dwerror=false)
  [ -n "$GPU_CC" ] && opts+=(-Dgpu_arch="$GPU_CC")
  if [ -f "$BUILD_DIR/build.ninja" ]; then
    $MESON setup --reconfigure "$BUILD_DIR" "${opts[@]}" >"$RES/build.log" 2>&1
  else
    $MESON setup "$BUILD_DIR" "${opts[@]}" >"$RES/build.log" 2>&1
  fi
  rc=$?
  [ $rc -eq 0 ] && {
    ninja -C "$BUILD_DIR" -j"$NPROC" >>"$RES/build.log" 2>&1
    rc=$?
  }
  if [ $rc -eq 0 ] && [ -x "$BIN" ]; then
    record build PASS "$(($(date +%s) - b0)) s, CUDA $(grep -q '#define HAVE_CUDA 1' "$BUILD_DIR/config.h" && echo "on${GPU_CC:+ (sm_$GPU_CC)}" || echo off)"
  else
    record build FAIL "rc=$rc: $(grep -m1 -iE 'error|fatal' "$RES/build.log" | cut -c1-160) ($RES/build.log)"
  fi
fi
CUDA_BUILT=0
[ -x "$BIN" ] && grep -q '#define HAVE_CUDA 1' "$BUILD_DIR/config.h" 2>/dev/null && CUDA_BUILT=1

# ------------------------------------------------------------------ host tests
if [ -x "$BIN" ] && [ "$CUDA_BUILT" = 1 ]; then
  say "host tests (cuda suite)"
  if $MESON test -C "$BUILD_DIR" --no-rebuild --print-errorlogs --suite cuda >"$RES/host-tests.log" 2>&1; then
    record host PASS "$(grep -cE '^ *[0-9]+/[0-9]+ .* OK ' "$RES/host-tests.log") ok"
  else
    record host FAIL "$(grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT)' "$RES/host-tests.log" | awk '{print $3}' | tr '\n' ' ')"
  fi
fi

# ------------------------------------------------------------------ check: verification only
# Energy is not measured in this stage, so NVML's one-second window costs nothing here.
if [ -x "$BIN" ]; then
  say "check: accelbench run --check on every device"
  "$BIN" info >"$RES/info.txt" 2>&1
  c0=$(date +%s)
  timeout -k 10 "${CHECK_TIMEOUT_S:-480}" "$BIN" run --check -o "$RES/check" --fail-on none \
    >"$RES/check.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && record check FAIL "accelbench exit $rc ($RES/check.log)"
  say "check: $(tail -1 "$RES/check.log") [$(($(date +%s) - c0)) s]"
fi

# ------------------------------------------------------------------ speed: one case per path
SLOW=(--min-time 0.3 --max-time 2 --min-samples 5 --warmup 0.1 --case-timeout 120)
run_speed() { # NAME ARGS...: one accelbench run into $RES/speed (--resume appends)
  local name=$1
  shift
  local lim
  lim=$(left)
  if [ "$lim" -lt 30 ]; then
    record speed WARN "$name not run: out of time"
    return
  fi
  echo "+ accelbench run $*" >>"$RES/speed.log"
  timeout -k 10 "$((lim > 150 ? 150 : lim))" "$BIN" run -o "$RES/speed" --resume --full --fail-on none \
    "$@" >>"$RES/speed.log" 2>&1
  local rc=$?
  [ $rc -ne 0 ] && record speed FAIL "$name: exit $rc ($RES/speed.log)"
}
if [ -x "$BIN" ] && [ "${CHECK_SPEED:-1}" = 1 ]; then
  say "speed: ceilings"
  run_speed cpu-ceilings -d cpu -w ceilings --quick "${SLOW[@]}"
  for dev in $("$BIN" info 2>/dev/null | awk '$1 ~ /^cuda:[0-9]+$/ {print $1}'); do
    D=(-d "$dev")
    run_speed "$dev ceilings" "${D[@]}" -w ceilings -a kind=fma,gemm,stream -a dtype=fp32,tf32,bf16,fp16,fp8,fp8_fast \
      -a n=0,8192 "${SLOW[@]}"
    CEIL=(--ceilings "$RES/speed/results.csv")
    say "speed: $dev workloads"
    run_speed "$dev fp8_gemm" "${D[@]}" -w fp8_gemm -a dtype=fp8_e4m3,bf16 -a scaling=none,tensor,row \
      -a accum=fp32,fast -a shape=square -a m=8192 "${SLOW[@]}" "${CEIL[@]}"
    run_speed "$dev fp8_gemm thin" "${D[@]}" -w fp8_gemm -a dtype=fp8_e4m3,bf16 -a scaling=none,tensor \
      -a accum=fp32 -a shape=4096x14336 -a m=16 "${SLOW[@]}" "${CEIL[@]}"
    run_speed "$dev attention prefill" "${D[@]}" -w attention_memory -a mode=prefill -a algo=fused,chunked \
      -a n=16384 -a heads=4 -a d=128 -a dtype=bf16 -a causal=0,1 -a batch=1 -a group=1 "${SLOW[@]}" "${CEIL[@]}"
    run_speed "$dev attention decode" "${D[@]}" -w attention_memory -a mode=decode -a algo=fused -a n=32768 \
      -a heads=8 -a d=128 -a dtype=bf16 -a causal=0 -a batch=1,8 -a group=1,8 "${SLOW[@]}" "${CEIL[@]}"
    run_speed "$dev transformer_block" "${D[@]}" -w transformer_block -a hidden=2048,4096 -a seq=2048 -a batch=4 \
      -a dtype=bf16 "${SLOW[@]}" "${CEIL[@]}"
    run_speed "$dev gpt2" "${D[@]}" -w gpt2 -a model=124M -a dtype=bf16 -a batch=1,8 -a prompt=128 -a gen=32 \
      "${SLOW[@]}" "${CEIL[@]}"
  done
fi

# ------------------------------------------------------------------ summary
SUMMARY=$RES/summary.txt
{
  printf 'accelbench check — %s, %s, %d s\n' "$(hostname)" "$(date -u +%FT%TZ)" "$(($(date +%s) - T0))"
  for l in "${LINES[@]}"; do
    IFS='|' read -r st ok detail <<<"$l"
    printf '%-9s %-4s %s\n' "$st" "$ok" "$detail"
  done
} >"$SUMMARY"
if command -v python3 >/dev/null 2>&1; then
  python3 tools/check_summary.py "$RES" >>"$SUMMARY"
  [ $? -ne 0 ] && FAILED=1
else
  # Without python, a rough verdict: any row of the check stage that is not ok or skipped.
  if grep -qE ',(mismatch|failed|timeout|oom),' "$RES/check/results.csv" 2>/dev/null; then
    FAILED=1
    echo "check     FAIL rows not ok in $RES/check/results.csv" >>"$SUMMARY"
  fi
  echo "(python3 not found: per-case table left out; see $RES/check/results.csv)" >>"$SUMMARY"
fi
[ "$FAILED" = 0 ] && echo "RESULT: PASS — $RES" >>"$SUMMARY" || echo "RESULT: FAIL — $RES" >>"$SUMMARY"
echo
cat "$SUMMARY"
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  tar czf "$OUT/check.tgz" -C "$(dirname "$RES")" "$(basename "$RES")" 2>/dev/null
  cp "$SUMMARY" "$OUT/summary.txt"
fi
exit $FAILED
