#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An analysis job in Python: statistics, a histogram and a threshold count of one dataset array in
one verified pass on every core, merged across MPI ranks. The same script runs alone and under
`mpirun -np N python3 analysis.py ...` or `srun --mpi=pmix`; rank 0 prints.

    python3 analysis.py particles.strata:energy --bins 64 --range 0 100 --above 90 [--json]
"""

import argparse
import json
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="FILE.strata[:array] or FILE.h5:/path")
    parser.add_argument("--bins", type=int, default=64)
    parser.add_argument("--range", type=float, nargs=2, default=(0.0, 100.0), metavar=("LO", "HI"))
    parser.add_argument("--above", type=float, default=90.0, help="count the values above this")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-mpi4py", action="store_true",
                        help="do not import mpi4py: strata starts MPI itself under a launcher")
    args = parser.parse_args()

    if not args.no_mpi4py:
        try:
            from mpi4py import MPI  # noqa: F401  (initialises MPI; strata attaches to it)
        except ImportError:
            pass
    import strata

    rt = strata.runtime()
    try:
        with strata.open(args.dataset) as ds:
            part = ds.partition()  # this rank's rows
            # An integer dataset counts against a whole-number threshold.
            above = args.above if ds.dtype.kind == "f" else int(args.above)
            result = strata.summarize(part, bins=args.bins, range=tuple(args.range),
                                      count=(">", above), allreduce=True)
    except strata.Error as e:
        print(f"analysis.py: error: {e}", file=sys.stderr, flush=True)
        if rt.size > 1:
            rt.abort(1)  # the other ranks wait in the merge: end the whole job
        return 1

    if rt.rank != 0:
        return 0
    s, h = result.stats, result.histogram
    if args.json:
        print(json.dumps({
            "ranks": rt.size, "count": s.count, "nan_count": s.nan_count, "sum": s.sum,
            "min": s.min, "max": s.max, "mean": s.mean, "variance": s.variance,
            "stddev": s.stddev, "histogram": [int(c) for c in h.counts],
            "underflow": h.underflow, "overflow": h.overflow, "above": result.count,
        }))
        return 0
    print(f"{args.dataset}: {s.count} values on {rt.size} rank(s) x {rt.threads} threads")
    print(f"  mean {s.mean:.12g}  stddev {s.stddev:.12g}  min {s.min}  max {s.max}")
    print(f"  {result.count} values above {args.above}")
    peak = max(int(h.counts.max()), 1)
    for edge, c in zip(h.edges, h.counts):
        print(f"{edge:12.6g} | {'#' * int(50 * int(c) / peak)} {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
