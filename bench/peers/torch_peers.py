#!/usr/bin/env python3
"""torch_peers.py: the cases of an accelbench run, timed again with PyTorch.

Reads our results (a results.csv, or a folder of them), runs each case torch has an answer
for, and writes a results folder of its own (results.csv in schema version 1, samples.jsonl,
run.json) with backend=torch and the same workload, device, device_name and params, so that
`accelbench compare OURS PEERS` pairs the cases and `accelbench plot OURS PEERS` draws both.

  attention_memory  mode=prefill algo=fused -> torch SDPA; algo=naive -> matmul, softmax,
                    matmul (the scores stored); chunked has no peer.
                    mode=decode -> SDPA of one query per head over the KV cache (enable_gqa
                    where this torch has it, else K and V repeated per query head)
  ceilings          kind=gemm (n as the row's gemm_n metric) -> torch.matmul, n x n x n
  fp8_gemm          dtype=fp32 and bf16 -> torch.matmul of (m, k) by (k, n)

The work counts (flops, bytes, tokens) and the ceiling are taken from our row, so rates and
fraction_of_ceiling mean the same on both sides. Optional: needs torch (see README); never
part of the C build or its tests.
"""

import argparse
import csv
import json
import math
import os
import platform
import random
import re
import socket
import sys
import time

SCHEMA_VERSION = 1

# results.csv columns of schema version 1 (results/schema.md), in file order.
COLUMNS_V1 = [
    "schema_version", "run_id", "host", "started_utc", "workload", "device", "device_name",
    "backend", "params", "status", "message", "n_samples", "reps_per_sample", "time_median_s",
    "time_mean_s", "time_stdev_s", "time_min_s", "time_max_s", "time_p05_s", "time_p95_s",
    "time_ci_lo_s", "time_ci_hi_s", "stop_reason", "flops", "bytes", "tokens", "flop_per_s",
    "byte_per_s", "token_per_s", "ceiling", "ceiling_value", "ceiling_source",
    "fraction_of_ceiling", "power_source", "avg_power_w", "energy_j", "flop_per_j",
    "token_per_j", "byte_per_j", "usd_per_hour", "metrics",
]


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def fail(msg):
    print("torch_peers: " + msg, file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------- reading our results

def find_csvs(path):
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        fail(f"{path}: no such file or folder")
    out = []
    if os.path.isfile(os.path.join(path, "results.csv")):
        out.append(os.path.join(path, "results.csv"))
    for e in sorted(os.listdir(path)):
        p = os.path.join(path, e, "results.csv")
        if not e.startswith(".") and os.path.isfile(p):
            out.append(p)
    if not out:
        fail(f"{path}: no results.csv in this folder or its subfolders")
    return out


def read_rows(path):
    """Our rows, the latest of each case; columns read by name, so a later schema with more
    columns reads too."""
    rows = {}
    for f in find_csvs(path):
        with open(f, newline="", encoding="utf-8-sig") as fh:
            rd = csv.DictReader(fh)
            for need in ("workload", "device", "device_name", "params", "started_utc"):
                if need not in (rd.fieldnames or []):
                    fail(f"{f}:1: not an accelbench results file (no column \"{need}\")")
            for r in rd:
                key = (r["workload"], r["device"], r["device_name"], r["params"])
                if key not in rows or r["started_utc"] >= rows[key]["started_utc"]:
                    r["_file"] = f
                    rows[key] = r
    return list(rows.values())


def parse_kv(s):
    out = {}
    for part in s.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan


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


def make_case(torch, row):
    p = parse_kv(row["params"])
    wl = row["workload"]
    if wl == "attention_memory":
        return case_attention(torch, p)
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


# ---------------------------------------------------------------- timing

def median_ci(xs):
    """Distribution-free 95% interval of the median: order statistics of binomial(n, 1/2)."""
    s, n = sorted(xs), len(xs)
    if n < 6:
        return s[0], s[-1]
    half = 1.96 * math.sqrt(n) / 2
    lo, hi = int(math.floor(n / 2 - half)), int(math.ceil(n / 2 + half))
    return s[max(lo, 0)], s[min(hi, n - 1)]


def quantile(s, q):
    x = q * (len(s) - 1)
    i = int(math.floor(x))
    j = min(i + 1, len(s) - 1)
    return s[i] + (s[j] - s[i]) * (x - i)


def measure(run, min_time_s, max_time_s, min_samples, max_samples):
    """Per-repetition times: repetitions batched so that a sample takes >= 10 ms, samples
    until both min_time_s and min_samples are reached (or max_time_s, max_samples)."""
    run()  # warm-up
    t0 = time.perf_counter()
    run()
    one = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(0.01 / one))
    samples, start = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            run()
        samples.append((time.perf_counter() - t0) / reps)
        el = time.perf_counter() - start
        if len(samples) >= max_samples:
            return samples, reps, "max_samples"
        if len(samples) >= min_samples and el >= min_time_s:
            return samples, reps, "converged"
        if el >= max_time_s and len(samples) >= 3:
            return samples, reps, "max_time"


def stats(xs):
    s = sorted(xs)
    n = len(s)
    mean = sum(s) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in s) / (n - 1)) if n > 1 else 0.0
    lo, hi = median_ci(s)
    return {"time_median_s": quantile(s, 0.5), "time_mean_s": mean, "time_stdev_s": sd,
            "time_min_s": s[0], "time_max_s": s[-1], "time_p05_s": quantile(s, 0.05),
            "time_p95_s": quantile(s, 0.95), "time_ci_lo_s": lo, "time_ci_hi_s": hi}


# ---------------------------------------------------------------- writing

def fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def metrics_text(m):
    out = []
    for k, v in m.items():
        v = fmt(v)
        out.append(f"{k}={v.replace(';', ',').replace('=', ':')}")
    return ";".join(out)


def write_results(folder, rows, samples, run_info):
    """The peer folder as our readers take it: results.csv (schema version 1: the one place
    that knows the layout), samples.jsonl, run.json."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "results.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS_V1)
        for r in rows:
            r = dict(r, schema_version=SCHEMA_VERSION)
            w.writerow([fmt(r.get(c)) for c in COLUMNS_V1])
    with open(os.path.join(folder, "samples.jsonl"), "w", encoding="utf-8") as fh:
        for r, xs in zip(rows, samples):
            fh.write(json.dumps({"schema_version": SCHEMA_VERSION, "workload": r["workload"],
                                 "device": r["device"], "params": r["params"],
                                 "samples_s": xs}) + "\n")
    tmp = os.path.join(folder, "run.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(run_info, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, os.path.join(folder, "run.json"))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description="Time the cases of an accelbench run with PyTorch and write them as "
                    "accelbench results (backend=torch).")
    ap.add_argument("ours", help="our results: a results.csv or a folder of them")
    ap.add_argument("-o", "--out", required=True, help="output folder for the peer results")
    ap.add_argument("--only", default="", help="regular expression a case's workload;params must match")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (default: OMP_NUM_THREADS, else the CPUs online)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds of samples per case (default 1)")
    ap.add_argument("--max-time", type=float, default=10.0, help="seconds at most per case (default 10)")
    ap.add_argument("--min-samples", type=int, default=10, help="samples at least (default 10)")
    ap.add_argument("--max-samples", type=int, default=1000, help="samples at most (default 1000)")
    ap.add_argument("--force", action="store_true", help="replace the results in the output folder")
    a = ap.parse_args()
    try:
        only = re.compile(a.only)
    except re.error as e:
        fail(f"--only: bad regular expression \"{a.only}\": {e}")
    if a.threads < 0:
        fail(f"--threads {a.threads}: needs 1 or more (0: the default)")
    if a.min_time < 0 or a.max_time <= 0 or a.min_samples < 1 or a.max_samples < a.min_samples:
        fail("--min-time, --max-time, --min-samples, --max-samples: need 0 <= min-time, 0 < max-time, "
             "1 <= min-samples <= max-samples")
    if os.path.exists(os.path.join(a.out, "results.csv")) and not a.force:
        fail(f"{a.out}/results.csv already exists: use another output folder (-o), or --force to replace it")
    ours = read_rows(a.ours)
    try:
        import warnings
        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch works without it
        import torch
    except ImportError:
        fail("torch is not importable: pip install torch --index-url https://download.pytorch.org/whl/cpu")
    try:
        threads = a.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
    except ValueError:
        fail(f"OMP_NUM_THREADS=\"{os.environ.get('OMP_NUM_THREADS')}\" is not a number: give --threads N")
    torch.set_num_threads(threads)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-%06x" % random.getrandbits(24)
    started = utc_now()
    host = socket.gethostname()
    out_rows, out_samples = [], []
    for r in ours:
        if r.get("backend") not in ("cpu", None) or not r["device"].startswith("cpu"):
            continue
        if not only.search(r["workload"] + ";" + r["params"]):
            continue
        run, info = make_case(torch, r)
        if run is None:
            print(f"  skip {r['workload']} {r['params']}: {info}", file=sys.stderr)
            continue
        case_start = utc_now()
        xs, reps, stop = measure(run, a.min_time, a.max_time, a.min_samples, a.max_samples)
        st = stats(xs)
        row = {"run_id": run_id, "host": host, "started_utc": case_start, "workload": r["workload"],
               "device": r["device"], "device_name": r["device_name"], "backend": "torch",
               "params": r["params"], "status": "ok", "message": "", "n_samples": len(xs),
               "reps_per_sample": reps, "stop_reason": stop, "power_source": "none"}
        row.update(st)
        med = st["time_median_s"]
        for cnt, rate in (("flops", "flop_per_s"), ("bytes", "byte_per_s"), ("tokens", "token_per_s")):
            row[cnt] = num(r.get(cnt))
            row[rate] = row[cnt] / med if row[cnt] > 0 else math.nan
        row["ceiling"] = r.get("ceiling", "")
        row["ceiling_value"] = num(r.get("ceiling_value"))
        row["ceiling_source"] = "file:" + r["_file"] if row["ceiling"] else ""
        cv = row["ceiling_value"]
        rate = row["byte_per_s"] if row["ceiling"] == "mem_bw" else row["flop_per_s"]
        row["fraction_of_ceiling"] = rate / cv if cv > 0 and rate > 0 else math.nan
        info = dict(info, torch_version=torch.__version__, torch_threads=torch.get_num_threads())
        row["metrics"] = metrics_text(info)
        out_rows.append(row)
        out_samples.append(xs)
        frac = row["fraction_of_ceiling"]
        print(f"  {r['workload']} {r['params']}: {med * 1e3:.4g} ms"
              + ("" if math.isnan(frac) else f", {frac:.3f} of {row['ceiling']}"), file=sys.stderr)
    if not out_rows:
        fail(f"{a.ours}: no case with a torch peer (attention_memory, ceilings kind=gemm, "
             "fp8_gemm dtype=fp32/bf16 on a CPU device)")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    run_info = {
        "schema_version": SCHEMA_VERSION, "tool": "torch_peers", "version": torch.__version__,
        "run_id": run_id, "started_utc": started, "finished_utc": utc_now(),
        "command_line": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "suite": "peers", "peers_of": os.path.abspath(a.ours),
        "host": {"name": host, "os": platform.platform(), "cpu_model": out_rows[0]["device_name"],
                 "cpu_cores_online": os.cpu_count(), "load_avg_1m": load},
        "devices": [{"id": out_rows[0]["device"], "backend": "torch", "name": out_rows[0]["device_name"],
                     "threads": torch.get_num_threads()}],
        "torch": {"version": torch.__version__, "threads": torch.get_num_threads(),
                  "config": torch.__config__.show()},
        "python": platform.python_version(),
    }
    write_results(a.out, out_rows, out_samples, run_info)
    print(f"torch_peers: {len(out_rows)} cases in {a.out}/results.csv", file=sys.stderr)


if __name__ == "__main__":
    main()
