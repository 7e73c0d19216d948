"""peers_common.py: what every peer script shares: reading our results, the case identity,
timing, and writing a results folder in our schema (version 2) that compare and plot read.

The one idea: a peer row is our row's case (workload, device, device_name, params) timed by
another implementation, with our row's work counts and ceiling, so the two rows pair by key
and their rates and fractions of the ceiling mean the same. Standard library only: the torch
and llama.cpp scripts import their own packages.
"""

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

SCHEMA_VERSION = 2

# results.csv columns of schema version 2 (results/schema.md, harness/record_csv.c), in file order.
COLUMNS = [
    "schema_version", "run_id", "case_id", "host", "started_utc", "workload", "device",
    "device_name", "backend", "params", "status", "message", "n_samples", "reps_per_sample",
    "time_median_s", "time_mean_s", "time_stdev_s", "time_min_s", "time_max_s", "time_p05_s",
    "time_p95_s", "time_ci_lo_s", "time_ci_hi_s", "stop_reason", "flops", "bytes", "tokens",
    "flop_per_s", "byte_per_s", "token_per_s", "ceiling", "ceiling_value", "ceiling_source",
    "fraction_of_ceiling", "power_source", "avg_power_w", "energy_j", "flop_per_j",
    "token_per_j", "byte_per_j", "usd_per_hour", "metrics",
]

# Text limits of our reader (harness/accelbench.h): longer fields make the file unreadable.
BACKEND_MAX = 15
METRIC_NAME_MAX = 39
METRIC_TEXT_MAX = 63

PROG = os.path.basename(sys.argv[0]).rsplit(".", 1)[0] or "peers"


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def fail(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(2)


def note(msg):
    print(f"  {msg}", file=sys.stderr)


# ---------------------------------------------------------------- case identity

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv1a(h, data):
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    return h


# What glibc's strtod takes as a whole number text (the C side tests *end == '\0' after it):
# decimal with optional exponent, hex float, inf/nan words; a leading sign; no surrounding space.
_DEC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?\Z")


def _strtod_whole(v):
    """The double strtod reads from all of v, or None when v is not one whole finite number."""
    if not v or v[0].isspace():
        return None
    if _DEC.match(v):
        d = float(v)
    elif _HEX.match(v):
        sign = -1.0 if v[0] == "-" else 1.0
        body = v.lstrip("+-")
        if not re.search(r"[pP]", body):
            body += "p0"
        try:
            d = sign * float.fromhex(body)
        except (ValueError, OverflowError):
            return None
    else:
        return None  # inf, nan and every other text hash as they are
    return d if math.isfinite(d) else None


def canonical_value(v):
    """A value as ab_case_id hashes it: a finite number in %.17g (-0 as 0), else the text."""
    d = _strtod_whole(v)
    if d is None:
        return v
    return "%.17g" % (0.0 if d == 0 else d)


def _c_value(v):
    """The value's bytes as hashed: C copies it into char raw[600] and its canonical form into
    char val[600] (snprintf: 599 bytes at most each)."""
    raw = v.encode("utf-8")[:599]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return raw  # not a number: hashed as it is
    return canonical_value(text).encode("ascii")[:599]


def case_id(workload, device, device_name, params, axes=None):
    """harness/params.c ab_case_id: 64-bit FNV-1a over workload, device, device_name (each
    followed by 0x1f) and each name=value (followed by 0x1e), the values canonical. axes, a list
    of (name, implicit or None) in the workload's order, reorders the pairs as ab_case_id does
    with a workload and drops an axis at its implicit value; None keeps the text's order (as
    when a schema-1 row is read). 16 lowercase hex digits."""
    kv = []
    s = params or ""
    while s and len(kv) < 64:
        seg, _, rest = s.partition(";")
        k, eq, v = seg.partition("=")
        kv.append((k, v if eq else ""))
        s = rest
    order, used = [], [False] * len(kv)
    for name, implicit in axes or []:
        for i, (k, v) in enumerate(kv):
            if not used[i] and k == name:
                used[i] = True
                if implicit is None or v != implicit:
                    order.append(i)
    order += [i for i in range(len(kv)) if not used[i]]
    h = FNV_OFFSET
    for part in (workload, device, device_name):
        h = fnv1a(h, (part or "").encode("utf-8"))
        h = fnv1a(h, b"\x1f")
    for i in order:
        k, v = kv[i]
        h = fnv1a(h, k.encode("utf-8"))
        h = fnv1a(h, b"=")
        h = fnv1a(h, _c_value(v))
        h = fnv1a(h, b"\x1e")
    return "%016x" % h


def ids_hash(ids):
    """gpt2.c ids_hash: FNV-1a 64 over the ids as little-endian int32, in order; 16 hex digits."""
    h = FNV_OFFSET
    for x in ids:
        h = fnv1a(h, (int(x) & 0xFFFFFFFF).to_bytes(4, "little"))
    return "%016x" % h


def agreement_with_ours(detail, gen, logit_of):
    """What a gpt2 peer that ran our weights and prompt says about our row's outputs (samples.jsonl
    detail): ids_agree_with_ours, the fraction of our greedy ids matched before the first
    difference of each sequence; ours_top5_logit_max_abs_diff, its logits at our last position's
    top 5 ids against ours (when both stopped at the same position). gen: B lists of ids;
    logit_of(b, id): the peer's last logit."""
    out = {}
    ours = (detail or {}).get("generated_ids")
    if not isinstance(ours, list) or not ours:
        return out
    same = total = 0
    for b, a in enumerate(gen):
        o = ours[b] if b < len(ours) and isinstance(ours[b], list) else []
        n = min(len(a), len(o))
        k = 0
        while k < n and a[k] == o[k]:
            k += 1
        same, total = same + k, total + n
    if total:
        out["ids_agree_with_ours"] = same / total
    last = detail.get("last_logits")
    if isinstance(last, list) and last and all(len(ours[b]) == len(gen[b]) for b in range(min(len(ours), len(gen)))):
        diff = 0.0
        for b, e in enumerate(last[: len(gen)]):
            for tid, val in (e or {}).get("top5", []):
                diff = max(diff, abs(float(logit_of(b, int(tid))) - float(val)))
        out["ours_top5_logit_max_abs_diff"] = diff
    return out


def prompt_from_ours(row, B, P):
    """Our row's prompt ids (B lists of P) from its samples.jsonl detail, or None."""
    ids = (row.get("_detail") or {}).get("prompt_ids")
    if isinstance(ids, list) and len(ids) == B and all(isinstance(r, list) and len(r) == P for r in ids):
        return ids
    return None


def prompt_from_file(path, B, P):
    """Our prompt_ids file (one sequence per line, ids separated by spaces or commas, '#' lines
    skipped; sequence b takes line b mod lines, its first P ids), or None."""
    try:
        lines = []
        for ln in open(path, encoding="utf-8"):
            ln = ln.strip()
            if ln and not ln.startswith("#"):
                lines.append([int(x) for x in ln.replace(",", " ").split()][:P])
    except (OSError, ValueError):
        return None
    if not lines or any(len(x) < P for x in lines):
        return None
    return [lines[b % len(lines)] for b in range(B)]


# ---------------------------------------------------------------- reading our results

def find_csvs(path):
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        fail(f"{path}: no such file or folder")
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if "results.csv" in files:
            out.append(os.path.join(root, "results.csv"))
    if not out:
        fail(f"{path}: no results.csv in this folder or its subfolders")
    return out


def _read_details(csv_path):
    """samples.jsonl beside a results.csv: (run_id, workload, device, params) -> detail."""
    out = {}
    p = os.path.join(os.path.dirname(csv_path), "samples.jsonl")
    if not os.path.isfile(p):
        return out
    with open(p, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                o = json.loads(line)
            except ValueError:
                note(f"{p}:{n}: not JSON, line ignored")
                continue
            if isinstance(o, dict) and isinstance(o.get("detail"), dict):
                out[(o.get("run_id", ""), o.get("workload"), o.get("device"), o.get("params"))] = o["detail"]
    return out


def _read_threads(csv_path):
    """run.json beside a results.csv: device id -> the threads our run used."""
    p = os.path.join(os.path.dirname(csv_path), "run.json")
    try:
        with open(p, encoding="utf-8") as fh:
            o = json.load(fh)
        return {d["id"]: int(d["threads"]) for d in o.get("devices", []) if d.get("threads")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def read_rows(path):
    """Our rows, the latest of each case (by started_utc, a tie to the later row), columns read
    by name, each with _file, _detail (its samples.jsonl detail, or None) and _threads."""
    rows = {}
    for f in find_csvs(path):
        details, threads = _read_details(f), _read_threads(f)
        with open(f, newline="", encoding="utf-8-sig") as fh:
            rd = csv.DictReader(fh)
            for need in ("workload", "device", "device_name", "params", "started_utc"):
                if need not in (rd.fieldnames or []):
                    fail(f"{f}:1: not an accelbench results file (no column \"{need}\")")
            for r in rd:
                if None in r.values() or None in r:
                    fail(f"{f}:{rd.line_num}: wrong number of fields")
                key = (r.get("backend", ""), r["workload"], r["device"], r["device_name"], r["params"])
                if key not in rows or r["started_utc"] >= rows[key]["started_utc"]:
                    r["_file"] = f
                    r["_detail"] = details.get((r.get("run_id", ""), r["workload"], r["device"], r["params"]))
                    if r["_detail"] is None:
                        r["_detail"] = details.get(("", r["workload"], r["device"], r["params"]))
                    r["_threads"] = threads.get(r["device"], 0)
                    rows[key] = r
    return list(rows.values())


def parse_kv(s):
    out = {}
    for part in (s or "").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan


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


def measure(run, min_time_s, max_time_s, min_samples, max_samples, prepare=None):
    """Per-repetition times: repetitions batched so that a sample takes >= 10 ms, samples until
    both min_time_s and min_samples are reached (or max_time_s, max_samples). prepare, when
    given, runs untimed before each repetition (a KV cache cut back to the prompt)."""
    def once():
        if prepare:
            prepare()
        t0 = time.perf_counter()
        run()
        return time.perf_counter() - t0

    once()  # warm-up
    one = max(once(), 1e-7)
    reps = 1 if prepare else max(1, int(0.01 / one))
    samples, start = [], time.perf_counter()
    while True:
        if prepare:
            samples.append(once())
        else:
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
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def metrics_text(m):
    """name=value;... as our reader takes it: ';' and '=' kept out of values, names and text
    values cut to the reader's limits."""
    out = []
    for k, v in m.items():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        v = fmt(v).replace(";", ",").replace("=", ":")
        if not isinstance(m[k], (int, float)):
            v = v[:METRIC_TEXT_MAX]
        out.append(f"{k[:METRIC_NAME_MAX]}={v}")
    return ";".join(out)


def peer_row(ours, backend, run_id, host, started, xs, reps, stop, metrics, ceiling_file=True):
    """Our row's case timed by a peer: times from xs, counts and ceiling copied from ours."""
    assert len(backend) <= BACKEND_MAX
    row = {"run_id": run_id, "host": host, "started_utc": started, "workload": ours["workload"],
           "device": ours["device"], "device_name": ours["device_name"], "backend": backend,
           "params": ours["params"], "status": "ok", "message": "", "n_samples": len(xs),
           "reps_per_sample": reps, "stop_reason": stop, "power_source": "none"}
    row["case_id"] = case_id(row["workload"], row["device"], row["device_name"], row["params"])
    if ours.get("case_id") and ours["case_id"] != row["case_id"]:
        note(f"warning: {ours['workload']} {ours['params']}: case_id {row['case_id']} computed here, "
             f"{ours['case_id']} in {ours['_file']} (params not in canonical form?)")
    st = stats(xs)
    row.update(st)
    med = st["time_median_s"]
    for cnt, rate in (("flops", "flop_per_s"), ("bytes", "byte_per_s"), ("tokens", "token_per_s")):
        row[cnt] = num(ours.get(cnt))
        row[rate] = row[cnt] / med if row[cnt] > 0 else math.nan
    row["ceiling"] = ours.get("ceiling", "")
    row["ceiling_value"] = num(ours.get("ceiling_value"))
    row["ceiling_source"] = ("file:" + ours["_file"])[:47] if row["ceiling"] else ""
    cv = row["ceiling_value"]
    rate = row["byte_per_s"] if row["ceiling"] in ("mem_bw", "llc_bw") else row["flop_per_s"]
    row["fraction_of_ceiling"] = rate / cv if cv > 0 and rate > 0 else math.nan
    row["metrics"] = metrics_text(metrics)
    return row


def new_run_id():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-%06x" % random.getrandbits(24)


def run_info(tool, version, run_id, started, ours_path, rows, threads, extra):
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    info = {
        "schema_version": SCHEMA_VERSION, "tool": tool, "version": version, "run_id": run_id,
        "started_utc": started, "finished_utc": utc_now(),
        "command_line": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "suite": "peers", "peers_of": os.path.abspath(ours_path),
        "host": {"name": socket.gethostname(), "os": platform.platform(),
                 "cpu_model": rows[0]["device_name"], "cpu_cores_online": os.cpu_count(),
                 "load_avg_1m": load},
        "devices": [{"id": rows[0]["device"], "backend": rows[0]["backend"],
                     "name": rows[0]["device_name"], "threads": threads}],
        "python": platform.python_version(),
    }
    info.update(extra)
    return info


def write_results(folder, rows, samples, info):
    """The peer folder as our readers take it: results.csv (schema version 2), samples.jsonl
    (one line per row, in the same order), run.json (replaced atomically)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "results.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            r = dict(r, schema_version=SCHEMA_VERSION)
            w.writerow([fmt(r.get(c)) for c in COLUMNS])
    with open(os.path.join(folder, "samples.jsonl"), "w", encoding="utf-8") as fh:
        for r, xs in zip(rows, samples):
            line = {"schema_version": SCHEMA_VERSION, "run_id": r["run_id"], "workload": r["workload"],
                    "device": r["device"], "params": r["params"], "case_id": r["case_id"],
                    "status": r["status"], "reps_per_sample": r["reps_per_sample"], "samples_s": xs,
                    "metrics": parse_kv(r["metrics"])}
            if r.get("_detail") is not None:
                line["detail"] = r["_detail"]
            fh.write(json.dumps(line) + "\n")
    tmp = os.path.join(folder, "run.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, os.path.join(folder, "run.json"))


# ---------------------------------------------------------------- the command line

def add_common_args(ap):
    ap.add_argument("ours", help="our results: a results.csv or a folder of them")
    ap.add_argument("-o", "--out", required=True, help="output folder for the peer results")
    ap.add_argument("--only", default="", help="regular expression a case's workload;params must match")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads (default: OMP_NUM_THREADS, else the threads our run.json "
                         "names for the device, else the CPUs online)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds of samples per case (default 1)")
    ap.add_argument("--max-time", type=float, default=10.0, help="seconds at most per case (default 10)")
    ap.add_argument("--min-samples", type=int, default=10, help="samples at least (default 10)")
    ap.add_argument("--max-samples", type=int, default=1000, help="samples at most (default 1000)")
    ap.add_argument("--force", action="store_true", help="replace the results in the output folder")


def check_common_args(a):
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
    return only


def threads_for(a, ours_rows):
    """--threads, else OMP_NUM_THREADS, else what our run used, else the CPUs online."""
    if a.threads:
        return a.threads
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env:
        try:
            t = int(env.split(",")[0])
        except ValueError:
            fail(f"OMP_NUM_THREADS=\"{env}\" is not a number: give --threads N")
        if t > 0:
            return t
    ts = [r["_threads"] for r in ours_rows if r.get("_threads")]
    return max(ts) if ts else (os.cpu_count() or 1)
