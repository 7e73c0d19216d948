#!/bin/bash
# decode sitting after the Q.K^T change: ceilings, decode vs torch SDPA, grouped decode from the caches and DRAM
set -u
cd /tmp/sit5
export ACCELBENCH_PROFILES=/work/main/results/profiles
AB=/tmp/sit5/ab
PY=/tmp/hfenv-d/bin/python
S=side
rm -rf $S; mkdir -p $S
up() { echo "== $1 $(date -u +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)"; }
up start
$AB run -w ceilings -d cpu -a kind=gemm,stream -a dtype=fp32 -o $S/ours/ceil
up ceil
$AB run -w attention_memory -d cpu -a mode=decode -a n=4K,16K,32K -a group=1,8 -a batch=1,8,32 -a d=128 \
    -a dtype=bf16 --min-samples 5 --max-time 3 --ceilings $S/ours/ceil/results.csv -o $S/ours/decode
up decode
$PY peers/torch_peers.py $S/ours/decode -o $S/peers/decode --max-time 3 --min-samples 5
up peers-decode
$AB run -w attention_memory -d cpu -a mode=decode -a n=1K,16K -a group=1,8 -a batch=8 -a d=128 \
    -a dtype=bf16 --min-samples 10 --max-time 3 --ceilings $S/ours/ceil/results.csv -o $S/decode-cache
up decode-cache
./ab-before run -w attention_memory -d cpu -a mode=decode -a n=1K,16K -a group=1,8 -a batch=8 -a d=128 \
    -a dtype=bf16 --min-samples 10 --max-time 3 --ceilings $S/ours/ceil/results.csv -o $S/decode-cache-before
up decode-cache-before
$AB compare $S/ours/decode $S/peers/decode > $S/cmp-decode.txt 2>&1
$AB compare $S/decode-cache-before $S/decode-cache > $S/cmp-decode-cache.txt 2>&1
$AB run -w ceilings -d cpu -a kind=gemm,stream -a dtype=fp32 -o $S/ours/ceil-end
up end
