#!/usr/bin/env python3
"""check_summary.py RESULTS_DIR — the PASS/FAIL table of tools/check.sh from its stages' CSVs.

check/: every case must be ok or skipped (skips are grouped by reason, so a GPU whose cases
were all skipped shows it); speed/: each row's rate, fraction of its ceiling and power, with
warnings for figures a device cannot give (a fraction above 1.05, an estimated power source).
Exit status 1 when a check row is not ok/skipped or a speed row failed."""
import collections
import csv
import math
import os
import sys


def rows(res, stage):
    p = os.path.join(res, stage, "results.csv")
    if not os.path.exists(p):
        return None
    with open(p, newline="") as f:
        return list(csv.DictReader(f))


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan


def si(v, unit):
    if not math.isfinite(v):
        return "-"
    for p, d in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= d:
            return f"{v / d:.3g} {p}{unit}"
    return f"{v:.3g} {unit}"


def main():
    res = sys.argv[1]
    fail = 0
    check = rows(res, "check")
    if check is None:
        print("check     FAIL no results (the stage did not run)")
        fail = 1
    else:
        table = collections.OrderedDict()
        for r in check:
            key = (r["workload"], r["device"])
            table.setdefault(key, collections.Counter())[r["status"]] += 1
        bad = [r for r in check if r["status"] not in ("ok", "skipped")]
        print(f"check     {'FAIL' if bad else 'PASS'} {len(check)} cases, "
              f"{sum(r['status'] == 'ok' for r in check)} ok, "
              f"{sum(r['status'] == 'skipped' for r in check)} skipped, {len(bad)} not ok")
        for (wl, dev), c in table.items():
            nb = sum(v for k, v in c.items() if k not in ("ok", "skipped"))
            print(f"  {'FAIL' if nb else 'PASS'}  {wl:<18} {dev:<8} ok {c['ok']:>3}  skipped {c['skipped']:>3}"
                  f"  not ok {nb:>3}")
        for r in bad[:30]:
            print(f"    NOT OK {r['workload']} {r['device']} {r['params']}: {r['status']}: {r['message'][:150]}")
        if len(bad) > 30:
            print(f"    ... {len(bad) - 30} more")
        skips = collections.Counter((r["device"], r["message"][:100]) for r in check if r["status"] == "skipped")
        for (dev, msg), n in skips.most_common(12):
            print(f"    skipped {n:>3} on {dev}: {msg}")
        fail |= bool(bad)
    speed = rows(res, "speed")
    if speed:
        bad = [r for r in speed if r["status"] not in ("ok", "skipped")]
        print(f"speed     {'FAIL' if bad else 'PASS'} {len(speed)} cases, {len(bad)} not ok")
        warns = []
        for r in speed:
            if r["status"] != "ok":
                if r["status"] != "skipped":
                    print(f"    NOT OK {r['workload']} {r['device']} {r['params']}: {r['status']}: {r['message'][:150]}")
                continue
            bw = r["ceiling"] == "mem_bw" or (r["workload"] == "ceilings" and "stream" in r["params"])
            rate = num(r["byte_per_s"]) if bw else num(r["flop_per_s"])
            frac = num(r["fraction_of_ceiling"])
            print(f"    {r['workload']:<17} {r['device']:<7} {r['params'][:64]:<64} {si(rate, 'B/s' if bw else 'FLOP/s'):>13}"
                  f" {frac:5.2f} of {r['ceiling'] or '-':<13} {num(r['avg_power_w']):5.0f} W {r['power_source']}")
            if math.isfinite(frac) and frac > 1.05 and r["workload"] != "ceilings":
                warns.append(f"{r['workload']} {r['params']}: {frac:.2f} of {r['ceiling']} (ceiling too low?)")
            if r["device"].startswith("cuda") and not r["power_source"].startswith("nvml"):
                warns.append(f"{r['workload']} {r['device']}: power source {r['power_source']} (no NVML)")
        for w in warns[:15]:
            print(f"  WARN {w}")
        fail |= bool(bad)
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
