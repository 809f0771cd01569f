#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Merges the Google Benchmark JSON of the scale suite's runs (one per rank count, each written by
# rank 0 of an mpirun) into one result, so that scripts/bench_report.py reads them as one suite.
# Usage: merge_runs.py OUT.json RUN_1.json RUN_2.json ...   (in rank-count order)
"""The context is the first run's, with the rank counts swept added; every case keeps its name
(which carries its rank count). Cases are renumbered so the report lists each group of cases
(named alike up to the first underscore: merge_mpi_allreduce, merge_strata, merge_allgather_fold;
baseline first, then the cases measured against it) side by side at 1 rank, then at 2, and so on."""
import json
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: merge_runs.py OUT.json RUN.json...")
    out, runs = sys.argv[1], sys.argv[2:]
    merged = None
    counts = []
    groups = {}  # name prefix -> (group number, its first family index)
    for run_index, path in enumerate(runs):
        with open(path) as f:
            result = json.load(f)
        counts.append(result["context"].get("scale_ranks", "?"))
        first_family = {}
        for b in result["benchmarks"]:
            prefix = b["name"].split("_", 1)[0]
            first_family.setdefault(prefix, b.get("family_index", 0))
        for b in result["benchmarks"]:
            family = b.get("family_index", 0)
            prefix = b["name"].split("_", 1)[0]
            group = groups.setdefault(prefix, len(groups))
            # A group (baseline, cases) at this rank count, then the next group.
            b["family_index"] = group * 1000 + run_index * 10 + family - first_family[prefix]
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
