#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Merges the Google Benchmark JSON of the scale suite's runs (one per rank count, each written by
# rank 0 of an mpirun) into one result, so that scripts/bench_report.py reads them as one suite.
# Usage: merge_runs.py OUT.json RUN_1.json RUN_2.json ...   (in rank-count order)
"""The context is the first run's, with the rank counts swept added; every case keeps its name
(which carries its rank count). Cases are renumbered so the report lists each case and its
baseline side by side at 1 rank, then at 2, and so on (cases of a family come in pairs: baseline,
then the case measured against it)."""
import json
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: merge_runs.py OUT.json RUN.json...")
    out, runs = sys.argv[1], sys.argv[2:]
    merged = None
    counts = []
    for run_index, path in enumerate(runs):
        with open(path) as f:
            result = json.load(f)
        counts.append(result["context"].get("scale_ranks", "?"))
        for b in result["benchmarks"]:
            family = b.get("family_index", 0)
            # A family pair (baseline, case) at this rank count, then the next pair.
            b["family_index"] = (family // 2) * 1000 + run_index * 10 + family % 2
        if merged is None:
            merged = result
        else:
            merged["benchmarks"].extend(result["benchmarks"])
    merged["context"]["scale_ranks"] = ",".join(counts)
    with open(out, "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
