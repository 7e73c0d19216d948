#!/usr/bin/env python3
"""llamacpp_peers.py: our gpt2 rows timed again with llama.cpp (through llama-cpp-python's
bindings to libllama), on a GGUF made from the same safetensors (make_gguf.py).

For each gpt2 row of ours on a CPU device whose weights axis is a checkpoint: the GGUF of that
checkpoint in the row's dtype (fp32 -> f32, bf16 -> bf16, fp16 -> f16), made once into
--gguf-dir, then
  prefill  B sequences of P prompt tokens in one llama_decode from an empty KV cache, logits of
           each sequence's last position, the greedy first token;
  decode   T greedy steps of one token per sequence (one llama_decode of B tokens each) from
           the prompt's cache, cut back to P positions before each repetition (untimed), as
           our decode rewrites positions P..P+T-1;
with the prompt ids of our row (samples.jsonl), llama.cpp's threads = ours, one sequence per
llama.cpp sequence id. Rows: backend=llama.cpp, our workload, device, device_name, params, work
counts and ceiling, so `accelbench compare OURS PEERS` pairs them. weights=random rows have no
file to convert: skipped, saying so. Optional: never part of the C build or its tests.
"""

import argparse
import ctypes
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc  # noqa: E402
from peers_common import fail, note, parse_kv  # noqa: E402

GGUF_TYPE = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


def gguf_for(a, weights, dtype, made):
    """The GGUF of a checkpoint in a dtype: --gguf-dir/<folder name>-<hash of its path>-<type>.gguf,
    converted on first use. Returns (path, None) or (None, why not)."""
    ckpt = weights if os.path.isdir(weights) else os.path.dirname(weights) or "."
    if not os.path.isfile(os.path.join(ckpt, "config.json")):
        return None, f"weights={weights}: no config.json beside it"
    t = GGUF_TYPE[dtype]
    tag = pc.ids_hash([ord(c) for c in os.path.abspath(ckpt)])[:8]
    out = os.path.join(a.gguf_dir, f"{os.path.basename(os.path.abspath(ckpt))}-{tag}-{t}.gguf")
    if out in made:
        return made[out]
    if os.path.isfile(out) and os.path.getmtime(out) >= os.path.getmtime(os.path.join(ckpt, "model.safetensors")):
        made[out] = (out, None)
        return made[out]
    if not a.converter:
        made[out] = (None, f"no {out} and no --converter to make it")
        return made[out]
    os.makedirs(a.gguf_dir, exist_ok=True)
    cmd = [a.convert_python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_gguf.py"),
           "--converter", a.converter, "--outtype", t, ckpt, out + ".tmp"]
    note(f"converting {ckpt} to {t} GGUF: {' '.join(cmd)}")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0 or not os.path.isfile(out + ".tmp"):
        tail = " | ".join(p.stdout.strip().splitlines()[-3:])
        made[out] = (None, f"GGUF conversion failed (exit {p.returncode}): {tail}")
        return made[out]
    os.replace(out + ".tmp", out)
    made[out] = (out, None)
    return made[out]


class Llama:
    """One model and context of libllama for B sequences of up to n_pos positions each."""

    def __init__(self, L, path, B, n_pos, n_batch, threads):
        import numpy as np
        self.L, self.np, self.B = L, np, B
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama_model_load_from_file({path}) failed")
        cp = L.llama_context_default_params()
        per_seq = -(-n_pos // 256) * 256
        cp.n_ctx = per_seq * B
        cp.n_batch = max(n_batch, B)
        cp.n_seq_max = B
        cp.n_threads = cp.n_threads_batch = threads
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            L.llama_model_free(self.model)
            raise RuntimeError("llama_init_from_model failed")
        self.n_ubatch = cp.n_ubatch
        self.mem = L.llama_get_memory(self.ctx)
        self.V = L.llama_vocab_n_tokens(L.llama_model_get_vocab(self.model))
        self.batches = []

    def batch(self, tokens, start_pos, last_only):
        """A llama_batch of B sequences of len(tokens[b]) tokens from start_pos, logits at each
        sequence's last token (every token when not last_only). Kept until close()."""
        L = self.L
        n = sum(len(t) for t in tokens)
        bt = L.llama_batch_init(n, 0, self.B)
        self.batches.append(bt)
        i = 0
        for b, seq in enumerate(tokens):
            for j, tok in enumerate(seq):
                bt.token[i] = tok
                bt.pos[i] = start_pos + j
                bt.n_seq_id[i] = 1
                bt.seq_id[i][0] = b
                bt.logits[i] = 1 if (j == len(seq) - 1 or not last_only) else 0
                i += 1
        bt.n_tokens = n
        return bt

    def decode(self, bt):
        rc = self.L.llama_decode(self.ctx, bt)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def logits(self, i):
        p = self.L.llama_get_logits_ith(self.ctx, i)
        return self.np.ctypeslib.as_array(p, shape=(self.V,))

    def cut(self, n_pos):
        """Every sequence's KV cache back to its first n_pos positions (0: empty)."""
        if n_pos == 0:
            self.L.llama_memory_clear(self.mem, True)
        else:
            self.L.llama_memory_seq_rm(self.mem, -1, n_pos, -1)

    def close(self):
        for bt in self.batches:
            self.L.llama_batch_free(bt)
        self.L.llama_free(self.ctx)
        self.L.llama_model_free(self.model)


def case_gpt2(L, a, row, p, threads, made):
    dtype = p.get("dtype", "fp32")
    if dtype not in GGUF_TYPE:
        return None, f"dtype={dtype} has no GGUF type"
    w = p.get("weights", "random")
    if w == "random":
        return None, "weights=random: llama.cpp needs the checkpoint file (run ours with -a weights=FOLDER)"
    B, P, T = int(p.get("batch", 1)), int(p.get("prompt", 32)), int(p.get("gen", 8))
    decode = p.get("phase") == "decode"
    ids = pc.prompt_from_ours(row, B, P)
    ids_from = "ours"
    if ids is None and p.get("prompt_ids", "random") != "random":
        ids, ids_from = pc.prompt_from_file(p["prompt_ids"], B, P), "file"
    if ids is None:
        return None, "our row holds no prompt ids (samples.jsonl detail) and names no prompt_ids file"
    path, why = gguf_for(a, w, dtype, made)
    if path is None:
        return None, why
    m = Llama(L, path, B, P + T + 1, B * P, threads)
    if max(max(s) for s in ids) >= m.V:
        m.close()
        return None, f"a prompt id is outside the GGUF's vocabulary of {m.V}"
    prompt = m.batch(ids, 0, last_only=True)
    last_idx = [(b + 1) * P - 1 for b in range(B)]  # batch index of each sequence's last token
    np = m.np
    state = {}
    info = {"kernel": "llama_decode", "gguf_type": GGUF_TYPE[dtype], "llama_threads": threads,
            "n_ubatch": m.n_ubatch, "prompt_from": ids_from,
            "prompt_ids_hash": pc.ids_hash([t for s in ids for t in s])}

    def greedy(idx):
        return [int(np.argmax(m.logits(i))) for i in idx]  # ties to the lowest id, as ours

    if not decode:
        def prepare():
            m.cut(0)

        def run():
            m.decode(prompt)
            state["gen"] = greedy(last_idx)
        prepare()
        run()
        gen = [[t] for t in state["gen"]]
        logit_rows = last_idx
    else:
        m.cut(0)
        m.decode(prompt)
        first = greedy(last_idx)
        steps = [None] * T  # one batch per step, its tokens rewritten in place

        def prepare():
            m.cut(P)

        def run():
            toks, out = first, [[t] for t in first]
            for t in range(T):
                if steps[t] is None:
                    steps[t] = m.batch([[x] for x in toks], P + t, last_only=True)
                bt = steps[t]
                for b in range(B):
                    bt.token[b] = toks[b]
                m.decode(bt)
                toks = greedy(range(B))
                for b in range(B):
                    out[b].append(toks[b])
            state["gen"] = out
        prepare()
        run()
        gen = state["gen"]
        logit_rows = list(range(B))
    info["generated_ids_hash"] = pc.ids_hash([t for s in gen for t in s])
    if ids_from == "ours":
        info.update(pc.agreement_with_ours(row.get("_detail"), gen,
                                           lambda b, t: float(m.logits(logit_rows[b])[t])))
    return (run, prepare, m), info


def main():
    ap = argparse.ArgumentParser(
        description="Time our gpt2 cases with llama.cpp (llama-cpp-python) on a GGUF of the same "
                    "checkpoint and write them as accelbench results (backend=llama.cpp).")
    pc.add_common_args(ap)
    ap.add_argument("--gguf-dir", default="", help="where GGUFs are made and kept (default: OUT/gguf)")
    ap.add_argument("--converter", default=os.environ.get("LLAMA_CPP_CONVERTER", ""),
                    help="convert_hf_to_gguf.py of the llama-cpp-python sdist (vendor/llama.cpp/); "
                         "default $LLAMA_CPP_CONVERTER")
    ap.add_argument("--convert-python", default=sys.executable,
                    help="the Python that runs the converter (needs torch, numpy, transformers, gguf; "
                         "default: this one)")
    a = ap.parse_args()
    only = pc.check_common_args(a)
    if a.converter and not os.path.isfile(a.converter):
        fail(f"--converter {a.converter}: no such file")
    a.gguf_dir = a.gguf_dir or os.path.join(a.out, "gguf")
    ours = pc.read_rows(a.ours)
    try:
        import llama_cpp as L
        import numpy  # noqa: F401
    except ImportError as e:
        fail(f"llama_cpp is not importable ({e}): pip install llama-cpp-python (README: How fast is it)")
    version = getattr(L, "__version__", "?")
    L.llama_backend_init()
    quiet = L.llama_log_callback(lambda level, text, user: None)  # kept alive: libllama calls it
    L.llama_log_set(quiet, ctypes.c_void_p(0))
    threads = pc.threads_for(a, ours)
    run_id, started, host = pc.new_run_id(), pc.utc_now(), pc.socket.gethostname()
    out_rows, out_samples, made = [], [], {}
    for r in ours:
        if r.get("backend") not in ("cpu", None) or not r["device"].startswith("cpu") or r["workload"] != "gpt2":
            continue
        if not only.search(r["workload"] + ";" + r["params"]):
            continue
        try:
            case, info = case_gpt2(L, a, r, parse_kv(r["params"]), threads, made)
        except (RuntimeError, ValueError, OSError) as e:
            case, info = None, f"{type(e).__name__}: {e}"
        if case is None:
            note(f"skip {r['workload']} {r['params']}: {info}")
            continue
        run, prepare, model = case
        try:
            case_start = pc.utc_now()
            xs, reps, stop = pc.measure(run, a.min_time, a.max_time, a.min_samples, a.max_samples, prepare)
        finally:
            model.close()
        info = dict(info, llama_cpp_python=version)
        row = pc.peer_row(r, "llama.cpp", run_id, host, case_start, xs, reps, stop, info)
        out_rows.append(row)
        out_samples.append(xs)
        frac = row["fraction_of_ceiling"]
        note(f"{r['workload']} {r['params']}: {row['time_median_s'] * 1e3:.4g} ms"
             + ("" if math.isnan(frac) else f", {frac:.3f} of {row['ceiling']}"))
    if not out_rows:
        fail(f"{a.ours}: no gpt2 case llama.cpp could run (see the skips above)")
    info = pc.run_info("llamacpp_peers", version, run_id, started, a.ours, out_rows, threads,
                       {"llama_cpp": {"version": version,
                                      "system_info": L.llama_print_system_info().decode(errors="replace"),
                                      "ggufs": sorted(k for k, v in made.items() if v[0])}})
    pc.write_results(a.out, out_rows, out_samples, info)
    print(f"llamacpp_peers: {len(out_rows)} cases in {a.out}/results.csv", file=sys.stderr)


if __name__ == "__main__":
    main()
