#!/bin/bash
# idle sitting: attention prefill/decode and gpt2 vs peers
set -u
cd /tmp/sit4
export ACCELBENCH_PROFILES=/work/main/results/profiles
AB=/tmp/sit4/ab
PY=/tmp/hfenv-d/bin/python
LPY=/tmp/llamaenv/bin/python
CONV=/tmp/llamasrc/x/llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py
S=side
rm -rf $S; mkdir -p $S
up() { echo "== $1 $(date -u +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)"; }
up start
$AB run -w ceilings -d cpu -a kind=gemm,stream -a dtype=fp32 -o $S/ours/ceil
up ceil
$AB run -w attention_memory -d cpu -a mode=prefill -a algo=fused -a n=1024,4096 -a d=64,128 \
    -a dtype=fp32,bf16 -a causal=0,1 --min-samples 5 --max-time 5 \
    --ceilings $S/ours/ceil/results.csv -o $S/ours/prefill
up prefill
$AB run -w attention_memory -d cpu -a mode=prefill -a algo=fused -a n=16384 -a d=64,128 \
    -a dtype=fp32,bf16 -a causal=0,1 --min-samples 3 --max-time 10 \
    --ceilings $S/ours/ceil/results.csv -o $S/ours/prefill16k
up prefill16k
$AB run -w attention_memory -d cpu -a mode=decode -a n=4K,16K,32K -a group=1,8 -a batch=1,8,32 -a d=128 \
    -a dtype=bf16 --min-samples 5 --max-time 3 --ceilings $S/ours/ceil/results.csv -o $S/ours/decode
up decode
$PY peers/torch_peers.py $S/ours/prefill -o $S/peers/prefill --max-time 5 --min-samples 5
up peers-prefill
$PY peers/torch_peers.py $S/ours/prefill16k -o $S/peers/prefill16k --max-time 20 --min-samples 3
up peers-prefill16k
$PY peers/torch_peers.py $S/ours/decode -o $S/peers/decode --max-time 3 --min-samples 5
up peers-decode
$AB run -w gpt2 -d cpu -a model=124M -a weights=/tmp/peers_gpt2_124m -a dtype=fp32 \
    -a phase=prefill,decode -a batch=1,8 -a prompt=128 -a gen=16 --min-samples 5 --max-time 3 --ceilings $S/ours/ceil/results.csv -o $S/gpt2/ours
up gpt2-ours
$PY peers/torch_peers.py $S/gpt2/ours -o $S/gpt2/torch --min-samples 5 --max-time 3
up gpt2-hf
$LPY peers/llamacpp_peers.py $S/gpt2/ours -o $S/gpt2/llama.cpp --min-samples 5 --max-time 3 \
    --converter $CONV --convert-python /tmp/ggufenv/bin/python --gguf-dir /tmp/sit4/gguf
up gpt2-llama
for p in prefill prefill16k decode; do $AB compare $S/ours/$p $S/peers/$p > $S/cmp-$p.txt 2>&1; done
$AB compare $S/gpt2/ours $S/gpt2/torch > $S/cmp-gpt2-hf.txt 2>&1
$AB compare $S/gpt2/ours $S/gpt2/llama.cpp > $S/cmp-gpt2-llama.txt 2>&1
:
C=$S/ours/ceil/results.csv
G="-w gpt2 -d cpu -a model=124M -a dtype=fp32 --min-samples 5 --max-time 3 --ceilings $C"
for b in before after; do
  case $b in before) X=./ab-before;; after) X=$AB;; esac
  $X run $G -a phase=decode -a batch=1,8 -a prompt=128 -a gen=16 -o $S/g124/$b-decode
  $X run $G -a phase=prefill -a batch=1 -a prompt=128,512 -o $S/g124/$b-prefill
  up g124-$b
done
for i in 1 2; do
  ./ab-before run --quick -d cpu -o $S/quick/before$i; up quick-before$i
  $AB run --quick -d cpu -o $S/quick/after$i; up quick-after$i
done
$AB run -w ceilings -d cpu -a kind=gemm,stream -a dtype=fp32 -o $S/ours/ceil-end
up end
# afterwards (same sitting): grouped decode from the caches (n=1K) and from DRAM (n=16K)
$AB run -w attention_memory -d cpu -a mode=decode -a n=1K,16K -a group=1,8 -a batch=8 -a d=128 \
    -a dtype=bf16 --min-samples 10 --max-time 3 --ceilings $S/ours/ceil/results.csv -o $S/decode-cache
up decode-cache
for i in 1 2; do $AB compare $S/quick/before$i $S/quick/after$i > $S/cmp-quick$i.txt 2>&1; done
