#!/usr/bin/env python3
"""bigresults.py — make a large results folder (results.csv, samples.jsonl, run.json) from one
real run, for measuring how `accelbench compare` and `accelbench plot` scale with rows.

Not a test and not realistic data: every row copies the template's first row with its own
params (n=0..rows-1) and synthetic samples, so that every case is distinct and has samples.

  accelbench run --check -w ceilings -d cpu -a kind=fma -a dtype=fp32 -o /tmp/q1
  tools/bigresults.py /tmp/q1 /tmp/big-a 100000 --seed 1
  tools/bigresults.py /tmp/q1 /tmp/big-b 100000 --seed 2
"""
import argparse
import csv
import json
import os
import random
import shutil
import statistics


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("template", help="a results folder of one real run")
    ap.add_argument("out", help="folder to write (created)")
    ap.add_argument("rows", type=int)
    ap.add_argument("--samples", type=int, default=10, help="samples per row")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(os.path.join(a.template, "results.csv"), newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        row0 = dict(zip(header, next(rd)))
    with open(os.path.join(a.template, "samples.jsonl")) as f:
        js0 = json.loads(f.readline())
    os.makedirs(a.out, exist_ok=True)
    shutil.copy(os.path.join(a.template, "run.json"), os.path.join(a.out, "run.json"))
    base = row0["params"].rsplit(";n=", 1)[0]
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as fc, \
            open(os.path.join(a.out, "samples.jsonl"), "w") as fj:
        w = csv.writer(fc, lineterminator="\n")
        w.writerow(header)
        for i in range(a.rows):
            t = 1e-3 * (1 + (i % 97) / 97) * rng.uniform(0.97, 1.03)
            xs = sorted(t * rng.uniform(0.99, 1.01) for _ in range(a.samples))
            r = dict(row0)
            r["params"] = f"{base};n={i}"
            med = statistics.median(xs)
            r.update(n_samples=len(xs), reps_per_sample=1, time_median_s=med,
                     time_mean_s=statistics.fmean(xs), time_stdev_s=statistics.stdev(xs),
                     time_min_s=xs[0], time_max_s=xs[-1], time_p05_s=xs[0], time_p95_s=xs[-1],
                     time_ci_lo_s=med * 0.995, time_ci_hi_s=med * 1.005, stop_reason="converged")
            flops = float(r["flops"] or 0)
            if flops > 0:
                r["flop_per_s"] = flops / med
            w.writerow([r[h] for h in header])
            js = dict(js0, params=r["params"], reps_per_sample=1, samples_s=xs)
            fj.write(json.dumps(js, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
