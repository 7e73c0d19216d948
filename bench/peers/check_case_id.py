#!/usr/bin/env python3
"""check_case_id.py: peers_common.case_id against the C ab_case_id, by hand (not a meson test:
the peer scripts are optional Python).

  check_case_id.py ACCELBENCH [RESULTS...]

1. Every row of each RESULTS (a results.csv or folder written by accelbench run): the case_id
   column the runner wrote (ab_case_id with the workload's axes) against the Python id computed
   from the row's workload, device, device_name and params, with and without the axes of
   `accelbench list --json` (implicit values dropped, axis order).
2. Params in forms no run writes (1024.0, 1e3, -0, hex, spaces, an implicit value, another
   order, text longer than the C buffers, UTF-8): a schema-1 file (no case_id column) is read by
   `accelbench export --wide`, which computes each case_id in C; each must equal Python's.
Exits 1 on any difference, printing it.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc  # noqa: E402

V1_COLUMNS = [c for c in pc.COLUMNS if c != "case_id"]

ODD_PARAMS = [
    ("attention_memory", "mode=prefill;algo=fused;n=1024.0;heads=1;d=64;dtype=bf16;causal=0"),
    ("attention_memory", "mode=prefill;algo=fused;n=1e3;heads=1;d=0x40;dtype=bf16;causal=-0"),
    ("attention_memory", "mode=prefill;algo=fused;n=+1024;heads=01;d=64.;dtype=bf16;causal=0.0e5"),
    ("attention_memory", "mode=prefill;algo=fused;n= 1024;heads=1 ;d=inf;dtype=nan;causal=1e999"),
    ("attention_memory", "mode=prefill;algo=fused;n=1e-400;heads=0x1p3;d=0x;dtype=1e;causal=.5"),
    ("transformer_block", "hidden=768;heads=0;seq=128;batch=1;dtype=fp32;cuda_graph=auto"),
    ("transformer_block", "cuda_graph=on;dtype=fp32;batch=1;seq=128;heads=0;hidden=768"),
    ("gpt2", "model=124M;dtype=fp32;phase=decode;batch=1;prompt=128;gen=32;weights=/tmp/caf\u00e9 m\u00f6del"),
    ("gpt2", "model=124M;weights=/" + "x" * 700 + ";prompt_ids=random"),
    ("gpt2", "model=124M;weights=/" + "\u00e9" * 400),
    ("ceilings", "kind=gemm;dtype=fp32;n=0;;novalue;=5;a=b=c"),
    ("fp8_gemm", ""),
]


def fail_diff(what, want, got):
    print(f"DIFFERENT {what}: C {want}, Python {got}")
    return 1


def axes_of(accelbench):
    out = subprocess.run([accelbench, "list", "--json"], check=True, stdout=subprocess.PIPE, text=True).stdout
    o = json.loads(out)
    return {w["name"]: [(ax["name"], ax.get("implicit")) for ax in w["axes"]] for w in o["workloads"]}


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    accelbench, results = sys.argv[1], sys.argv[2:]
    axes = axes_of(accelbench)
    bad = checked = 0
    for path in results:
        for r in pc.read_rows(path):
            if not r.get("case_id"):
                continue
            for ax in (None, axes.get(r["workload"])):
                got = pc.case_id(r["workload"], r["device"], r["device_name"], r["params"], ax)
                checked += 1
                if got != r["case_id"]:
                    bad += fail_diff(f"{r['_file']} {r['workload']} {r['params']} (axes: {ax is not None})",
                                     r["case_id"], got)
    with tempfile.TemporaryDirectory(prefix="check_case_id-") as tmp:
        src, wide = os.path.join(tmp, "v1.csv"), os.path.join(tmp, "wide.csv")
        with open(src, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(V1_COLUMNS)
            for i, (wl, params) in enumerate(ODD_PARAMS):
                row = {"schema_version": 1, "run_id": f"check{i}", "host": "h",  # a run each: one row each
                       "started_utc": f"2026-01-01T00:00:{i:02d}Z", "workload": wl, "device": "cpu",
                       "device_name": "AMD EPYC \u00b7 test", "backend": "cpu", "params": params,
                       "status": "skipped", "message": "check", "n_samples": 0,
                       "reps_per_sample": 0}
                w.writerow([row.get(c, "") for c in V1_COLUMNS])
        subprocess.run([accelbench, "export", src, "--wide", "-o", wide], check=True)
        with open(wide, newline="", encoding="utf-8") as fh:
            got_rows = {r["params"]: r["case_id"] for r in csv.DictReader(fh)}
        for wl, params in ODD_PARAMS:
            c = got_rows.get(params)
            if c is None:
                bad += fail_diff(f"export left out {wl} {params[:60]}", "a row", "none")
                continue
            py = pc.case_id(wl, "cpu", "AMD EPYC \u00b7 test", params)
            checked += 1
            if py != c:
                bad += fail_diff(f"{wl} {params[:80]}", c, py)
    print(f"check_case_id: {checked} ids compared, {bad} different")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
