#!/usr/bin/env python3
"""torch_peers.py: the cases of an accelbench run, timed again with PyTorch (and Hugging Face
transformers for gpt2).

Reads our results (a results.csv, or a folder of them), runs each case torch has an answer
for, and writes a results folder of its own (results.csv in schema version 2, samples.jsonl,
run.json) with backend=torch and the same workload, device, device_name and params (so the
same case_id), so that `accelbench compare OURS PEERS` pairs the cases and `accelbench plot
OURS PEERS` draws both.

  attention_memory  mode=prefill algo=fused -> torch SDPA; algo=naive -> matmul, softmax,
                    matmul (the scores stored); chunked has no peer.
                    mode=decode -> SDPA of one query per head over the KV cache (enable_gqa
                    where this torch has it, else K and V repeated per query head)
  ceilings          kind=gemm (n as the row's gemm_n metric) -> torch.matmul, n x n x n
  fp8_gemm          dtype=fp32 and bf16 -> torch.matmul of (m, k) by (k, n)
  transformer_block one pre-LN GPT layer in torch (LayerNorm, Linear, SDPA causal, tanh GELU)
                    at the row's hidden, heads, seq, batch, dtype
  gpt2              transformers GPT2LMHeadModel, same weights file (weights=random: a
                    random model of the row's shape), the prompt ids of our row; prefill: the
                    forward of B x P tokens filling the KV cache, last position's logits;
                    decode: T greedy steps of one token per sequence from the prompt's cache

The work counts (flops, bytes, tokens) and the ceiling are taken from our row, so rates and
fraction_of_ceiling mean the same on both sides. Optional: needs torch (and transformers for
gpt2; see README); never part of the C build or its tests.
"""

import argparse
import copy
import inspect
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc  # noqa: E402
from peers_common import fail, note, num, parse_kv  # noqa: E402

# ---------------------------------------------------------------- the torch cases

def torch_dtype(torch, name):
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}.get(name)


def max_rel_err(torch, got, ref):
    """max |got - ref| / (1e-3 + |ref|) over the rows compared, in float64."""
    got = got.to(torch.float64)
    return float(((got - ref).abs() / (1e-3 + ref.abs())).max())


def case_attention(torch, p):
    """(callable, metrics) for an attention_memory case, or (None, reason)."""
    F = torch.nn.functional
    dt = torch_dtype(torch, p.get("dtype", "bf16"))
    if dt is None or dt == torch.float16:
        return None, "no fp16 on the CPU path"
    n, H, d = int(p["n"]), int(p["heads"]), int(p["d"])
    g = torch.Generator().manual_seed(1)
    if p.get("mode") == "decode":
        B, G = int(p.get("batch", 1)), int(p.get("group", 1))
        q = torch.randn(B, H * G, 1, d, generator=g).to(dt)
        k = torch.randn(B, H, n, d, generator=g).to(dt)
        v = torch.randn(B, H, n, d, generator=g).to(dt)
        try:
            F.scaled_dot_product_attention(q[:1, :G], k[:1, :1, :8], v[:1, :1, :8], enable_gqa=True)
            gqa = "enable_gqa"

            def run():
                return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        except TypeError:
            gqa = "repeat_interleave"

            def run():
                return F.scaled_dot_product_attention(q, k.repeat_interleave(G, dim=1),
                                                      v.repeat_interleave(G, dim=1))
        out = run()
        # FP64 reference of the first sequence's query heads
        q64, k64, v64 = (t[0].to(torch.float64) for t in (q, k, v))
        k64, v64 = k64.repeat_interleave(G, dim=0), v64.repeat_interleave(G, dim=0)
        ref = torch.softmax(q64 @ k64.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v64
        return run, {"gqa": gqa, "max_rel_err": max_rel_err(torch, out[0], ref), "kernel": "sdpa"}
    algo = p.get("algo", "fused")
    if algo not in ("fused", "naive"):
        return None, f"algo={algo} has no torch peer"
    causal = p.get("causal", "0") == "1"
    q = torch.randn(1, H, n, d, generator=g).to(dt)
    k = torch.randn(1, H, n, d, generator=g).to(dt)
    v = torch.randn(1, H, n, d, generator=g).to(dt)
    if algo == "fused":
        def run():
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        kernel = "sdpa"
    else:
        mask = torch.ones(n, n, dtype=torch.bool).tril() if causal else None

        def run():
            s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
            if mask is not None:
                s = s.masked_fill(~mask, float("-inf"))
            return torch.softmax(s, dim=-1) @ v
        kernel = "matmul_softmax_matmul"
    out = run()
    rows = min(n, 8)  # the last query rows: under the mask they see every key
    q64 = q[0, :, n - rows:].to(torch.float64)
    s = q64 @ k[0].to(torch.float64).transpose(-1, -2) / math.sqrt(d)
    if causal:
        i = torch.arange(n - rows, n).unsqueeze(1)
        s = s.masked_fill(torch.arange(n).unsqueeze(0) > i, float("-inf"))
    ref = torch.softmax(s, dim=-1) @ v[0].to(torch.float64)
    return run, {"kernel": kernel, "max_rel_err": max_rel_err(torch, out[0, :, n - rows:], ref)}


def case_matmul(torch, m, k, n, dt):
    g = torch.Generator().manual_seed(2)
    a = torch.randn(m, k, generator=g).to(dt)
    b = torch.randn(k, n, generator=g).to(dt)
    c = torch.empty(m, n, dtype=dt)

    def run():
        return torch.matmul(a, b, out=c)
    out = run()
    rows = min(m, 4)
    ref = a[:rows].to(torch.float64) @ b.to(torch.float64)
    scale = a[:rows].abs().to(torch.float64) @ b.abs().to(torch.float64)
    err = float(((out[:rows].to(torch.float64) - ref).abs() / scale).max())
    return run, {"kernel": "torch.matmul", "max_err_rel_to_abs_sum": err}


# ---------------------------------------------------------------- transformer_block

TB_TOL = {"fp32": (1e-3, 1e-3), "bf16": (6e-2, 3e-2)}  # atol, rtol: transformer_block's own


def case_transformer_block(torch, p):
    """One pre-LN GPT layer, as workloads/transformer_block: h1 = x + W_o Attn(W_qkv LN1(x)),
    y = h1 + W_proj GELU_tanh(W_fc LN2(h1)), biases everywhere, causal, MLP width 4h."""
    F = torch.nn.functional
    name = p.get("dtype", "fp32")
    dt = torch_dtype(torch, name)
    if dt is None or dt == torch.float16:
        return None, "no fp16 on the CPU path"
    h, s, b = int(p["hidden"]), int(p["seq"]), int(p["batch"])
    heads = int(p.get("heads", "0")) or h // 64
    if heads <= 0 or h % heads:
        return None, f"hidden={h} is not a multiple of heads={heads}"
    g = torch.Generator().manual_seed(3)

    def w(*shape, scale=0.02):
        return (torch.randn(*shape, generator=g) * scale).to(dt)

    P = {"ln1_w": 1 + w(h, scale=0.1), "ln1_b": w(h), "w_qkv": w(3 * h, h), "b_qkv": w(3 * h),
         "w_o": w(h, h), "b_o": w(h), "ln2_w": 1 + w(h, scale=0.1), "ln2_b": w(h),
         "w_fc": w(4 * h, h), "b_fc": w(4 * h), "w_proj": w(h, 4 * h), "b_proj": w(h)}
    x = torch.randn(b, s, h, generator=g).to(dt)

    def layer(x, P):
        B, S, H = x.shape
        a = F.layer_norm(x, (H,), P["ln1_w"], P["ln1_b"], 1e-5)
        q, k, v = F.linear(a, P["w_qkv"], P["b_qkv"]).split(H, dim=-1)
        q, k, v = (t.view(B, S, heads, H // heads).transpose(1, 2) for t in (q, k, v))
        if x.dtype == torch.float64:  # SDPA's reference: the formula itself
            sc = (q @ k.transpose(-1, -2)) / math.sqrt(H // heads)
            sc = sc.masked_fill(torch.ones(S, S, dtype=torch.bool).triu(1), float("-inf"))
            o = torch.softmax(sc, dim=-1) @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h1 = x + F.linear(o.transpose(1, 2).reshape(B, S, H), P["w_o"], P["b_o"])
        m = F.gelu(F.linear(F.layer_norm(h1, (H,), P["ln2_w"], P["ln2_b"], 1e-5), P["w_fc"], P["b_fc"]),
                   approximate="tanh")
        return h1 + F.linear(m, P["w_proj"], P["b_proj"])

    def run():
        with torch.inference_mode():
            return layer(x, P)
    out = run()
    # The first 3 tokens of each sequence need nothing later (causal): checked in FP64 against
    # the same weights, as a fraction of the workload's tolerance (1 = at the limit).
    t = min(3, s)
    ref = layer(x[:, :t].to(torch.float64), {k: v.to(torch.float64) for k, v in P.items()})
    atol, rtol = TB_TOL[name]
    err = float(((out[:, :t].to(torch.float64) - ref).abs() / (atol + rtol * ref.abs())).max())
    return run, {"kernel": "torch_layer_sdpa", "head_size": h // heads, "case_first_tokens_max_err": err}


# ---------------------------------------------------------------- gpt2 (Hugging Face transformers)

_hf_models = {}


def weights_folder(w):
    """Our weights axis: a checkpoint folder or its model.safetensors (config.json beside it)."""
    d = w if os.path.isdir(w) else os.path.dirname(w) or "."
    if not os.path.isfile(os.path.join(d, "config.json")):
        return None
    return d


GPT2_SHAPES = {"124M": (12, 768, 12), "355M": (24, 1024, 16), "774M": (36, 1280, 20),
               "1558M": (48, 1600, 25), "tiny": (2, 128, 2)}


def hf_model(torch, p, dt):
    """(model, how) for our row's weights: the same checkpoint, or random weights of its shape."""
    import transformers
    w = p.get("weights", "random")
    key = (w, p.get("model", "124M"), str(dt))
    if key in _hf_models:
        return _hf_models[key]
    if w == "random":
        L, C, H = GPT2_SHAPES[p.get("model", "124M")]
        torch.manual_seed(4)
        cfg = transformers.GPT2Config(n_layer=L, n_embd=C, n_head=H, vocab_size=50257, n_positions=1024)
        m = transformers.GPT2LMHeadModel(cfg)
        how = "random_init"
    else:
        d = weights_folder(w)
        if d is None:
            raise ValueError(f"weights={w}: no config.json beside it")
        m = transformers.GPT2LMHeadModel.from_pretrained(d, dtype=torch.float32)
        how = "file"
    try:
        m.config._attn_implementation = "sdpa"
    except AttributeError:
        pass
    m = m.to(dt).eval()
    _hf_models[key] = (m, how)
    return m, how


def prompt_ids(torch, row, p, B, P, V):
    """Our row's prompt: the ids its samples.jsonl detail holds, else its prompt_ids file, else
    seeded random ids (then the peer's ids differ from ours)."""
    ids = pc.prompt_from_ours(row, B, P)
    if ids is not None:
        return torch.tensor(ids, dtype=torch.long), "ours"
    f = p.get("prompt_ids", "random")
    ids = pc.prompt_from_file(f, B, P) if f != "random" else None
    if ids is not None:
        return torch.tensor(ids, dtype=torch.long), "file"
    g = torch.Generator().manual_seed(5)
    return torch.randint(0, V, (B, P), generator=g), "random"


def case_gpt2(torch, row, p):
    try:
        import transformers
    except ImportError:
        return None, "transformers is not importable (pip install transformers safetensors)"
    name = p.get("dtype", "fp32")
    dt = torch_dtype(torch, name)
    if dt is None or dt == torch.float16:
        return None, "no fp16 on the CPU path"
    B, P, T = int(p.get("batch", 1)), int(p.get("prompt", 32)), int(p.get("gen", 8))
    decode = p.get("phase") == "decode"
    try:
        m, how = hf_model(torch, p, dt)
    except (ValueError, OSError) as e:
        return None, str(e)
    if P + (T if decode else 0) > m.config.n_positions:
        return None, f"prompt {P} + gen {T} needs more positions than the model's {m.config.n_positions}"
    ids, ids_from = prompt_ids(torch, row, p, B, P, m.config.vocab_size)
    info = {"kernel": "hf_forward_kv_cache", "transformers_version": transformers.__version__,
            "attn_impl": getattr(m.config, "_attn_implementation", "") or "", "weights": how,
            "prompt_from": ids_from, "prompt_ids_hash": pc.ids_hash(ids.flatten().tolist())}
    state = {}

    def prefill():
        out = m(input_ids=ids, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1], out.past_key_values

    if not decode:
        def run():
            with torch.inference_mode():
                state["logits"], _ = prefill()
        prepare = None
        run()
        gen = state["logits"].argmax(-1, keepdim=True)
    else:
        with torch.inference_mode():
            logits0, cache0 = prefill()
        first = logits0.argmax(-1, keepdim=True)
        # transformers renames past_key_values to cache (5.x deprecates the old name)
        cache_kw = "cache" if "cache" in inspect.signature(m.forward).parameters else "past_key_values"

        def prepare():  # each repetition starts from the prompt's cache, as ours rewrites P..P+T-1
            state["cache"] = copy.deepcopy(cache0)

        def run():
            with torch.inference_mode():
                tok, cache, toks = first, state["cache"], [first]
                for _ in range(T):
                    out = m(input_ids=tok, use_cache=True, **{cache_kw: cache})
                    state["logits"] = out.logits[:, -1]
                    tok = state["logits"].argmax(-1, keepdim=True)
                    toks.append(tok)
                state["gen"] = torch.cat(toks, dim=1)
        prepare()
        run()
        gen = state["gen"]
        # generate() with the same prompt must pick the same greedy tokens as the loop timed
        with torch.inference_mode():
            g = m.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=T + 1,
                           do_sample=False, pad_token_id=0)
        info["generate_agrees"] = int(torch.equal(g[:, P:], gen))
    info["generated_ids_hash"] = pc.ids_hash(gen.flatten().tolist())
    # Against our row, where it ran the same weights and prompt: the greedy ids, and the top-5
    # logits at the last position (samples.jsonl's detail).
    if how == "file" and ids_from == "ours":
        info.update(pc.agreement_with_ours(row.get("_detail"), gen.tolist(),
                                           lambda b, t: state["logits"][b, t]))
    return (run, prepare), info


def make_case(torch, row):
    p = parse_kv(row["params"])
    wl = row["workload"]
    if wl == "attention_memory":
        return case_attention(torch, p)
    if wl == "transformer_block":
        return case_transformer_block(torch, p)
    if wl == "gpt2":
        return case_gpt2(torch, row, p)
    if wl == "ceilings" and p.get("kind") == "gemm":
        dt = torch_dtype(torch, p.get("dtype"))
        if dt is None or dt == torch.float16:
            return None, f"dtype={p.get('dtype')} has no torch CPU matmul peer"
        n = int(p.get("n", "0"))
        if n == 0:
            n = int(num(parse_kv(row.get("metrics", "")).get("gemm_n")) or 0) or 0
        if n <= 0:
            return None, "our row names no gemm_n"
        return case_matmul(torch, n, n, n, dt)
    if wl == "fp8_gemm" and p.get("dtype") in ("fp32", "bf16"):
        m, shape = int(p["m"]), p.get("shape", "square")
        k, n = (m, m) if shape == "square" else (int(x) for x in shape.split("x"))
        return case_matmul(torch, m, k, n, torch_dtype(torch, p["dtype"]))
    return None, f"no torch peer for {wl}"


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description="Time the cases of an accelbench run with PyTorch (gpt2: Hugging Face "
                    "transformers) and write them as accelbench results (backend=torch).")
    pc.add_common_args(ap)
    a = ap.parse_args()
    only = pc.check_common_args(a)
    ours = pc.read_rows(a.ours)
    try:
        import warnings
        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch works without it
        import torch
    except ImportError:
        fail("torch is not importable: pip install torch (README: How fast is it)")
    threads = pc.threads_for(a, ours)
    torch.set_num_threads(threads)
    run_id, started, host = pc.new_run_id(), pc.utc_now(), pc.socket.gethostname()
    out_rows, out_samples = [], []
    for r in ours:
        if r.get("backend") not in ("cpu", None) or not r["device"].startswith("cpu"):
            continue
        if not only.search(r["workload"] + ";" + r["params"]):
            continue
        try:
            run, info = make_case(torch, r)
        except (RuntimeError, ValueError, MemoryError) as e:  # a shape torch refuses, memory
            run, info = None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if run is None:
            note(f"skip {r['workload']} {r['params']}: {info}")
            continue
        run, prepare = run if isinstance(run, tuple) else (run, None)
        case_start = pc.utc_now()
        xs, reps, stop = pc.measure(run, a.min_time, a.max_time, a.min_samples, a.max_samples, prepare)
        info = dict(info, torch_version=torch.__version__, torch_threads=torch.get_num_threads())
        row = pc.peer_row(r, "torch", run_id, host, case_start, xs, reps, stop, info)
        out_rows.append(row)
        out_samples.append(xs)
        frac = row["fraction_of_ceiling"]
        note(f"{r['workload']} {r['params']}: {row['time_median_s'] * 1e3:.4g} ms"
             + ("" if math.isnan(frac) else f", {frac:.3f} of {row['ceiling']}"))
    if not out_rows:
        fail(f"{a.ours}: no case with a torch peer (attention_memory, ceilings kind=gemm, "
             "fp8_gemm dtype=fp32/bf16, transformer_block, gpt2 on a CPU device)")
    info = pc.run_info("torch_peers", torch.__version__, run_id, started, a.ours, out_rows,
                       torch.get_num_threads(),
                       {"torch": {"version": torch.__version__, "threads": torch.get_num_threads(),
                                  "config": torch.__config__.show()}})
    pc.write_results(a.out, out_rows, out_samples, info)
    print(f"torch_peers: {len(out_rows)} cases in {a.out}/results.csv", file=sys.stderr)


if __name__ == "__main__":
    main()
