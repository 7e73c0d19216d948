#!/usr/bin/env bash
# build.sh [DIR] — build the libFuzzer targets with clang (ASan + UBSan) into DIR
# (default build-fuzz/). Only the parsers (and compare, which reads results) are compiled, with
# the backend table and its meters, which name devices in what they parse;
# of the workloads, only the safetensors reader and the GPT-2 parameter loader; no CUDA.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-fuzz}
mkdir -p "$out"
CC=${CC:-clang}
# The parsers' only build-time settings: where built-in profiles live.
cat >"$out/config.h" <<CFG
#define AB_SOURCE_DIR "$root"
#define AB_BUILD_DIR "$out"
#define AB_DATADIR "/usr/local/share/accelbench"
#define AB_BIN_TO_DATA "../share/accelbench"
CFG
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -Wno-pass-failed
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$out" -I"$root/harness" -I"$root/bench" -I"$root/workloads")
lib=(util.c axes.c params.c record_csv.c record_json.c profile.c stats.c stats_tests.c results_load.c dtype.c keymap.c
     device.c backend_cpu.c backend_cuda_none.c backend_cuda_common.c meter.c meter_rapl.c meter_nvml.c
     meter_nominal.c meter_papi_none.c export.c)
srcs=()
for f in "${lib[@]}"; do srcs+=("$root/harness/$f"); done
srcs+=("$root/tests/fuzz/registry_stub.c") # the readers type axes by the registry: none here
for t in csv samples axes profile compare safetensors gpt2_load offload; do
  extra=()
  [ "$t" = compare ] && extra=("$root/bench/compare.c")
  [ "$t" = offload ] && extra=("$root/bench/offload.c")
  [ "$t" = safetensors ] && extra=("$root/workloads/gpt2/safetensors.c")
  [ "$t" = gpt2_load ] && extra=("$root/workloads/gpt2/safetensors.c" "$root/workloads/gpt2/params.c")
  "$CC" "${flags[@]}" -o "$out/fuzz_$t" "$root/tests/fuzz/fuzz_$t.c" "${srcs[@]}" \
    "${extra[@]}" -fopenmp -lcjson -lcsv -lgsl -lgslcblas -lm -ldl -lpthread
done
echo "fuzz targets in $out: csv samples axes profile compare safetensors gpt2_load offload"
