#!/usr/bin/env python3
"""make_gpt2_fixture.py: writes tests/data/gpt2_tiny/, a GPT-2 checkpoint made by Hugging Face
transformers itself and transformers' own greedy decode of a prompt, so that test_gpt2 can hold
the C loader and model against another implementation (our FP64 reference shares the loader's
conventions, so it cannot catch a transposed Conv1D or a wrong tie on its own).

    python3 -m venv /tmp/hfenv && /tmp/hfenv/bin/pip install torch transformers safetensors
    /tmp/hfenv/bin/python tests/data/make_gpt2_fixture.py        # from the repository root

The model is tiny and random (2 layers, 64 wide, 2 heads, 1000 tokens, 32 positions), its weights
drawn larger than GPT-2's initialization so that every part of the block moves the logits, and
stored as bf16 (half the bytes; bf16 widens to fp32 exactly, so transformers' fp32 forward below
and the C loader see the same numbers). Outputs, all committed:
  config.json, model.safetensors   save_pretrained (safetensors, tied output embedding)
  prompt_ids.txt                   the prompt, one sequence per line (accelbench's prompt_ids)
  logits.bin                       fp32 little-endian, (P + T, V): the logits at every position of
                                   the prompt followed by its T greedy tokens, row i the logits
                                   after token i (rows P-1 .. P+T-2 chose the greedy tokens)
  expected.json                    prompt and greedy ids, shapes, per-row sums and top-5, versions
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel

P_IDS = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]  # a prompt of 10 tokens
T = 8  # greedy tokens
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2_tiny")


def main():
    torch.manual_seed(20261201)
    cfg = GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=1000, n_positions=32, n_ctx=32,
                     bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("wte.weight"):
                p.normal_(0, 0.5)
            elif name.endswith("wpe.weight"):
                p.normal_(0, 0.3)
            elif ".ln_" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.normal_(0, 0.1)
            else:
                p.normal_(0, 0.15)
        model = model.to(torch.bfloat16).to(torch.float32)  # bf16-exact weights
    prompt = torch.tensor([[i % cfg.vocab_size for i in P_IDS]])
    with torch.no_grad():
        gen = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=T,
                             do_sample=False, pad_token_id=0, eos_token_id=None)
        full = model(gen).logits[0].to(torch.float64).numpy().astype(np.float32)  # (P+T, V)
    P = prompt.shape[1]
    greedy = gen[0, P:].tolist()
    assert len(greedy) == T
    for t in range(T):  # the full forward and generate's KV-cached steps chose the same tokens
        row = full[P - 1 + t]
        assert int(row.argmax()) == greedy[t], (t, int(row.argmax()), greedy[t])
        top2 = np.sort(row)[-2:]
        assert top2[1] - top2[0] > 1e-3, "near-tie in the greedy choice: change the seed"
    os.makedirs(OUT, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(OUT, safe_serialization=True)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(OUT, extra)):
            os.remove(os.path.join(OUT, extra))
    with open(os.path.join(OUT, "prompt_ids.txt"), "w") as f:
        f.write(" ".join(str(i) for i in prompt[0].tolist()) + "\n")
    full.astype("<f4").tofile(os.path.join(OUT, "logits.bin"))
    rows = []
    for i in range(full.shape[0]):
        top = np.argsort(-full[i], kind="stable")[:5]
        rows.append({"position": i, "sum": float(full[i].astype(np.float64).sum()),
                     "top5": [[int(k), float(full[i][k])] for k in top]})
    exp = {"prompt_ids": prompt[0].tolist(), "greedy_ids": greedy, "P": P, "T": T,
           "vocab_size": cfg.vocab_size, "logits_file": "logits.bin", "logits_shape": list(full.shape),
           "rows": rows, "torch": torch.__version__, "transformers": transformers.__version__,
           "python": sys.version.split()[0]}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    print("wrote", OUT, "greedy", greedy)


if __name__ == "__main__":
    main()
