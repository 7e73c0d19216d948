#!/usr/bin/env python3
"""test_export.py EXE SCHEMA_MD TMPDIR REFERENCE_DIR — the tidy tables against the real binary.

A quick run of two workloads; then results_wide.csv is read with Python's csv module and every
value must parse as the type results/schema.md documents for its column (the fixed columns from
its "results_wide.csv" table; p_ and m_ columns by the rule there, with the declarations as
results_wide_columns.csv lists them, spot-checked against known axes and metrics). Where pandas
is importable, pandas.read_csv must give numeric dtypes for numeric columns with no parsing code.
Then the schema-1 reference folder is read by export, compare and plot."""
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys

exe, schema_md, tmp, reference = sys.argv[1:5]
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def run(*args, ok=True):
    p = subprocess.run([exe, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-2000:])
        raise SystemExit(f"accelbench {' '.join(args)}: exit {p.returncode}")
    return p


def fixed_types():
    """The type table of schema.md's "### results_wide.csv" section."""
    text = open(schema_md, encoding="utf-8").read()
    sec = text.split("### results_wide.csv", 1)[1].split("\n### ", 1)[0]
    types = {}
    for m in re.finditer(r"^\| `([a-z0-9_<>]+)` \| (int|real|text)\b", sec, re.M):
        types[m.group(1)] = m.group(2)
    return types


def parses(value, typ):
    if value == "" or typ == "text":
        return True
    try:
        if typ == "int":
            int(value)
            return True
        v = float(value)
        return math.isfinite(v) and value.strip().lower() not in ("nan", "inf", "-inf")
    except ValueError:
        return False


shutil.rmtree(tmp, ignore_errors=True)
os.makedirs(tmp)
a = os.path.join(tmp, "att")
c = os.path.join(tmp, "ceil")
run("run", "--quick", "-d", "cpu", "-w", "attention_memory", "-a", "mode=prefill", "-a", "n=256",
    "--no-ceilings", "--max-time", "0.3", "-o", a)
run("run", "--quick", "-d", "cpu", "-w", "ceilings", "-a", "kind=fma,stream", "--max-time", "0.3", "-o", c)

types = fixed_types()
check(len(types) >= 40 and types.get("time_median_s") == "real" and types.get("n_samples") == "int",
      f"schema.md's results_wide.csv table read: {len(types)} columns")

for folder in (a, c):
    wide = os.path.join(folder, "results_wide.csv")
    with open(wide, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(folder, "results_wide_columns.csv"), newline="") as f:
        declared = {r["name"]: r for r in csv.DictReader(f)}
    with open(wide, newline="") as f:
        header = next(csv.reader(f))
    check(len(rows) > 0, f"{wide}: rows")
    check(list(declared) == header, f"{wide}: columns file lists the header in order")
    for col in header:
        if col.startswith("p_"):
            typ = declared[col]["type"]
        elif col.startswith("m_"):
            typ = declared[col]["type"]
        else:
            typ = types.get(col)
            check(typ is not None, f"{wide}: column {col} is not documented in schema.md")
            check(declared[col]["type"] == typ, f"{wide}: {col} is {declared[col]['type']}, schema.md {typ}")
        for i, r in enumerate(rows):
            check(parses(r[col], typ), f"{wide}:{i + 2}: {col}={r[col]!r} is not {typ}")
    expect = {"att": {"p_n": "int", "p_dtype": "text", "p_algo": "text", "p_causal": "int",
                      "m_max_abs_err": "real", "m_cpu_kernels": "text", "m_peak_extra_bytes": "real"},
              "ceil": {"p_kind": "text", "p_n": "int", "m_isa": "text"}}[os.path.basename(folder)]
    for col, typ in expect.items():
        check(col in declared and declared[col]["type"] == typ,
              f"{wide}: {col} should be {typ}: {declared.get(col)}")
    for r in rows:
        if r["workload"] == "ceilings":  # not a token workload: empty, not 0
            check(r["token_per_s"] == "" and r["tokens"] == "", f"{wide}: no tokens in {r['workload']} rows")
        check(re.fullmatch(r"[0-9a-f]{16}", r["case_id"]) is not None, f"{wide}: case_id {r['case_id']!r}")
        if r["status"] != "ok":
            check(all(r[k] == "" for k in ("time_median_s", "time_ci_lo_s", "flop_per_s", "byte_per_s")),
                  f"{wide}: a {r['status']} row leaves time and rates empty")
        else:
            check(float(r["time_median_s"]) > 0, f"{wide}: ok row has a time")
    ids = {(r["run_id"], r["case_id"]) for r in rows}
    check(len(ids) == len(rows), f"{wide}: one row per case")
    with open(os.path.join(folder, "results_long.csv"), newline="") as f:
        long_rows = list(csv.DictReader(f))
    check(len(long_rows) > len(rows), f"{folder}: long table has numbers")
    for r in long_rows:
        check((r["run_id"], r["case_id"]) in ids, f"long row of an unknown case {r['case_id']}")
        check(r["name"] in declared and not r["name"].startswith("p_"), f"long name {r['name']}")
        check(parses(r["value"], "real") and r["value"] != "", f"long value {r['value']!r}")

# export of both folders: every row of each, as the end-of-run tables have them; bad input.
p = run("export", a, c)
both = list(csv.DictReader(p.stdout.splitlines()))
n_a = sum(1 for _ in open(os.path.join(a, "results_wide.csv"))) - 1
n_c = sum(1 for _ in open(os.path.join(c, "results_wide.csv"))) - 1
check(len(both) == n_a + n_c, f"export A C: {len(both)} rows, expected {n_a} + {n_c}")
p = run("export", a, "--long", "--format", "json")
long_json = json.loads(p.stdout)
check(all(isinstance(x["value"], (int, float)) for x in long_json), "export --long --format json: numbers")
for args, needle in ((["export", a, "--format", "parquet"], "parquet"),
                     (["export", os.path.join(tmp, "nothing-here")], "nothing-here"),
                     (["export", a, "--bogus"], "--bogus"), (["export"], "expected")):
    p = run(*args, ok=False)
    check(p.returncode == 2 and needle in p.stderr and p.stderr.count("\n") == 1,
          f"accelbench {' '.join(args)}: exit {p.returncode}, {p.stderr!r}")

# Typed numbers in samples.jsonl.
with open(os.path.join(a, "samples.jsonl")) as f:
    line = json.loads(f.readline())
check(isinstance(line["axes"]["n"], (int, float)) and line["axes"]["n"] == 256, f"samples axes: {line['axes']}")
check(isinstance(line["axes"]["dtype"], str), "samples axes: dtype is text")
with open(os.path.join(a, "run.json")) as f:
    rj = json.load(f)
check(rj["axes"]["attention_memory"]["n"] == [256], f"run.json axes: {rj.get('axes')}")
check(all(isinstance(x, str) for x in rj["axes"]["attention_memory"]["algo"]), "run.json axes: algo is text")

try:
    import pandas as pd
except ImportError:
    pd = None
    print("pandas is not importable here: the pandas.read_csv half is skipped")
if pd is not None:
    for folder in (a, c):
        df = pd.read_csv(os.path.join(folder, "results_wide.csv"))
        with open(os.path.join(folder, "results_wide_columns.csv"), newline="") as f:
            declared = {r["name"]: r["type"] for r in csv.DictReader(f)}
        for col, typ in declared.items():
            if typ in ("int", "real"):
                check(df[col].dtype.kind in "iuf", f"pandas: {col} ({typ}) read as {df[col].dtype}")
    print("pandas.read_csv: numeric dtypes for every numeric column")

# The schema-1 reference folder: export, compare and plot read it.
p = run("export", reference)
rows = list(csv.DictReader(p.stdout.splitlines()))
check(len(rows) > 10 and all(re.fullmatch(r"[0-9a-f]{16}", r["case_id"]) for r in rows),
      "export of the schema-1 reference: rows with computed case ids")
skipped = [r for r in rows if r["status"] != "ok"]
check(all(r["time_median_s"] == "" and r["flop_per_s"] == "" for r in skipped),
      "schema-1 rows that were not measured read as empty, not 0")
p = run("compare", reference, reference, "--format", "csv")
check(p.returncode == 0 and ",same," in p.stdout,
      f"compare of the schema-1 reference against itself: {p.stdout[:200]}")
# --resume of a copy of it: rewritten in schema 2 (original kept), no finished case run again.
copy = os.path.join(tmp, "reference-copy")
shutil.copytree(reference, copy)
n_before = sum(1 for _ in open(os.path.join(copy, "results.csv")))
p = run("run", "-w", "ceilings", "-d", "cpu", "--quick", "--resume", "-o", copy)
with open(os.path.join(copy, "results.csv")) as f:
    lines = f.read().splitlines()
check(lines[0].startswith("schema_version,run_id,case_id,"), "resumed schema-1 file is schema 2 now")
check(os.path.exists(os.path.join(copy, "results.csv.schema1")), "the schema-1 original is kept")
check(len(lines) >= n_before, "no row lost in the migration")
p = run("compare", reference, copy, "--format", "csv", ok=False)
check(p.returncode in (0, 1) and ",same," in p.stdout, f"compare schema 1 against its migration: {p.stderr[:200]}")
p = run("plot", "--help", ok=False)
if "not built" in (p.stdout + p.stderr) or p.returncode != 0:
    print("plot is not built here: the plot half is skipped")
else:
    out = os.path.join(tmp, "plots")
    p = run("plot", reference, "-o", out, "--format", "svg")
    made = [f for f in os.listdir(out) if f.endswith(".svg")]
    check(len(made) > 0, "plot of the schema-1 reference draws charts")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("ok")
