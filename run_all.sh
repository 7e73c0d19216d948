#!/usr/bin/env bash
# run_all.sh — set up, build and run accelbench on a Debian 12 machine.
#
#   ./run_all.sh [RUN OPTIONS]   install missing packages, build, run the standard suite on every
#                                device found, draw the standard figures into results/<host>-<time>/
#                                (RUN OPTIONS go to `accelbench run`, e.g. --quick or --full)
#   ./run_all.sh test            build with warnings as errors and AddressSanitizer + UBSan and run
#                                every test, the power sampler's and the runner's threads under
#                                ThreadSanitizer, and each fuzz target for FUZZ_SECONDS (default
#                                20; 0 to skip); ends with "N passed, N failed"
#   ./run_all.sh check           build, run every code path of every workload on every device
#                                found with verification only (run --check), then one speed case
#                                per path per GPU; prints a PASS/FAIL table (tools/check.sh)
#   ./run_all.sh deps            only install the packages
#
# Environment: BUILD_DIR (default build, or build-test for `test`), SANITIZE (default
# address,undefined for `test`; "none" to turn off), CUDA (auto|enabled|disabled).
set -euo pipefail
cd "$(dirname "$0")"

PKGS="build-essential meson ninja-build pkg-config libcsv-dev libcjson-dev libpapi-dev libdnnl-dev
      libopenmpi-dev openmpi-bin
      libgsl-dev libcmocka-dev libcairo2-dev libpango1.0-dev fonts-dejavu-core"
# Only for `test`: libFuzzer comes with clang's runtime; Slurm and munge for the single-node Slurm test.
TEST_PKGS="clang libclang-rt-14-dev clang-format slurm-wlm munge"

missing_packages() {
  local p missing=""
  for p in $PKGS ${EXTRA_PKGS:-}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  echo "$missing"
}

ensure_packages() {
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo"
    else
      echo "run_all.sh: missing packages:$missing" >&2
      echo "install them with:" >&2
      echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
      exit 1
    fi
  fi
  echo "run_all.sh: installing$missing" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
}

cuda_path() {
  # nvcc lives outside PATH in the CUDA toolkit's default location
  if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
}

configure() { # DIR [meson options...]
  local dir=$1
  shift
  if [ -d "$dir" ] && [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

# meson test prints "Ok: N ... Fail: N"; finish with the plain summary line CI reads.
summarize() { # LOG...
  local ok=0 fail=0 skip=0 f n
  for f in "$@"; do
    # awk, not grep: a log without one of the lines (the fuzz log has no Skipped:) counts 0
    # instead of failing the pipeline under pipefail.
    n=$(awk '/^Ok:/ {v = $2} END {print v + 0}' "$f"); ok=$((ok + n))
    for k in Fail: Timeout: 'Unexpected Pass:'; do
      # the count is the first word after the key ("Fail: 1 (format: ...)" has words after it)
      n=$(awk -v k="$k" 'index($0, k) == 1 {split(substr($0, length(k) + 1), w, " "); v = w[1]} END {print v + 0}' "$f"); fail=$((fail + n))
    done
    n=$(awk '/^Skipped:/ {v = $2} END {print v + 0}' "$f"); skip=$((skip + n))
  done
  echo "$ok passed, $fail failed, $skip skipped"
  [ "$fail" -eq 0 ]
}

cmd=${1:-suite}
case "$cmd" in
deps)
  ensure_packages
  ;;
check)
  # Build, verify every code path on every device, time one case per path: tools/check.sh.
  exec tools/check.sh
  ;;
test)
  shift
  EXTRA_PKGS=$TEST_PKGS ensure_packages
  cuda_path
  sanitize=${SANITIZE:-address,undefined}
  dir=${BUILD_DIR:-build-test}
  opts=(-Dwerror=true -Dbuildtype=debugoptimized -Dtest_hooks=true -Dtests=enabled)
  [ "$sanitize" != none ] && opts+=(-Db_sanitize="$sanitize" -Db_lundef=false)
  # Sanitizers instrument host C code; nvcc does not take -fsanitize, so the sanitized build is
  # CPU-only and a second build proves the CUDA code compiles and runs its host-side tests.
  configure "$dir" "${opts[@]}" -Dcuda=disabled
  ninja -C "$dir" >/dev/null
  logs=()
  set +e
  meson test -C "$dir" --print-errorlogs --num-processes 1 "$@" 2>&1 | tee "$dir/test-summary.log"
  logs+=("$dir/test-summary.log")
  if [ "${CUDA:-auto}" != disabled ] && command -v nvcc >/dev/null 2>&1; then
    cdir=${dir}-cuda
    configure "$cdir" -Dwerror=true -Dbuildtype=release -Dcuda=enabled -Dtests=enabled
    if ninja -C "$cdir" >"$cdir.build.log" 2>&1; then
      meson test -C "$cdir" --print-errorlogs --suite cuda 2>&1 | tee "$cdir/test-summary.log"
      logs+=("$cdir/test-summary.log")
    else
      tail -40 "$cdir.build.log"
      echo "Fail: 1 (CUDA build)" >"$cdir.fail.log"
      logs+=("$cdir.fail.log")
    fi
  fi
  # ThreadSanitizer: the NVML power sampler (fake library) and the runner's case watchdog.
  # The suites that run oneDNN/OpenMP kernels stay out: libgomp is not instrumented.
  if [ "$sanitize" != none ]; then
    tdir=${dir}-tsan
    configure "$tdir" -Dwerror=true -Dbuildtype=debugoptimized -Dtest_hooks=true -Dtests=enabled \
      -Db_sanitize=thread -Db_lundef=false -Dcuda=disabled
    ninja -C "$tdir" >/dev/null
    TSAN_OPTIONS=halt_on_error=1 meson test -C "$tdir" --print-errorlogs --num-processes 1 meters resources \
      2>&1 | tee "$tdir/test-summary.log"
    logs+=("$tdir/test-summary.log")
  fi
  # Fuzz smoke: each target briefly, from the committed seeds and regressions.
  if [ "${FUZZ_SECONDS:-20}" != 0 ] && command -v clang >/dev/null 2>&1; then
    flog=${dir}-fuzz.log
    tests/fuzz/run.sh "${FUZZ_SECONDS:-20}" 2>&1 | tee "$flog.out"
    frc=${PIPESTATUS[0]}
    echo "Ok: $(grep -c ': ok,' "$flog.out")" >"$flog"
    # a target that did not build is a failure too, not a silence
    echo "Fail: $(($(grep -c 'FAILED' "$flog.out") + (frc != 0 && $(grep -c 'FAILED' "$flog.out") == 0)))" >>"$flog"
    logs+=("$flog")
  fi
  # Formatting is checked, not argued about: .clang-format, clang-format 14 as in Debian 12.
  if command -v clang-format >/dev/null 2>&1; then
    flog=${dir}-format.log
    if find bench harness plots tests workloads -name '*.[ch]' -o -name '*.cu' |
      grep -v '^tests/fuzz/\(corpus\|regressions\|crash-work\)/' |
      xargs clang-format --dry-run --Werror 2>"$flog.out"; then
      echo "Ok: 1 (format)" >"$flog"
    else
      head -20 "$flog.out"
      echo "Fail: 1 (format: run clang-format -i on the files above)" >"$flog"
    fi
    logs+=("$flog")
  fi
  set -e
  summarize "${logs[@]}"
  ;;
*)
  [ "$cmd" = suite ] && shift
  ensure_packages
  cuda_path
  dir=${BUILD_DIR:-build}
  configure "$dir" -Dbuildtype=release -Dcuda=${CUDA:-auto}
  ninja -C "$dir" >/dev/null
  out="results/$(hostname)-$(date -u +%Y%m%dT%H%M%SZ)"
  "$dir/bench/accelbench" info
  "$dir/bench/accelbench" run -o "$out" "$@" || status=$?
  if [ "${status:-0}" -eq 0 ] || [ "${status:-0}" -eq 130 ]; then
    if "$dir/bench/accelbench" plot "$out/results.csv" -o "$out/figures" --format pdf,svg,png; then
      echo "figures in $out/figures"
    fi
  fi
  echo "results in $out"
  exit "${status:-0}"
  ;;
esac
