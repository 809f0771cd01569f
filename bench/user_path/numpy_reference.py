#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The numpy reference of the user_path suite: maps one array of a .strata file with np.memmap and
times, in this process, sum/min/max/std and np.histogram with 64 bins over [LOW, HIGH), the work
`strata stats` and `strata hist` do. Prints one JSON object: the seconds of each and the results.

Usage: numpy_reference.py FILE DATA_OFFSET VALUES [LOW HIGH BINS]
"""

import json
import sys
import time

import numpy as np


def main():
    path, offset, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    low, high, bins = (float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])) \
        if len(sys.argv) > 6 else (0.0, 100.0, 64)
    start = time.perf_counter()
    values = np.memmap(path, dtype="<f8", mode="r", offset=offset, shape=(count,))
    total, lo, hi, std = values.sum(), values.min(), values.max(), values.std()
    stats_done = time.perf_counter()
    counts, _ = np.histogram(values, bins=bins, range=(low, high))
    hist_done = time.perf_counter()
    print(json.dumps({
        "stats_seconds": stats_done - start,
        "hist_seconds": hist_done - stats_done,
        "sum": float(total), "min": float(lo), "max": float(hi), "stddev": float(std),
        "hist_total": int(counts.sum()),
    }))


if __name__ == "__main__":
    main()
