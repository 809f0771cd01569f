#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The python suite: strata's Python kernels against NumPy on the same array in one process.

A .strata file of --size bytes of f64 in [0, 100) (made by `strata gen`) is opened with
strata.open; its partition's zero-copy view is the NumPy array. Timed in this process, page cache
warm, each repetition's cases in a shuffled order: NumPy's sum/min/max/std and np.histogram (64
bins over [0, 100)) on the view (the baselines), strata.stats / strata.histogram /
strata.summarize on the partition and on the view, and the compute phase of `strata stats --json`
(the C++ command) on the same file. The partition was verified when the view was taken, so its
repetitions reduce only, while the command verifies every chunk in its pass: for the like-for-like
comparison, `strata_stats/opened` opens the file afresh and makes the first, verified pass, against
the command's open and compute phases, and whole processes are timed from outside: a python3 that
imports strata and prints strata.stats of the file, against `strata stats --json`. Writes Google
Benchmark-shaped JSON that scripts/bench_report.py reads like any suite's.

Usage: strata_vs_numpy.py --strata build/release/cli/strata --out build/release/bench-results/python.json
       (with PYTHONPATH=build/release/python and /usr/bin/python3)
"""

import argparse
import datetime
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import strata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "user_path"))
from user_path import Results  # noqa: E402  (the suites' one JSON shape)

RANGE = (0.0, 100.0)
BINS = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strata", required=True, help="the strata command")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--size", default="1G", help="data bytes (strata gen --size)")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()

    load_start = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="strata_bench_python.", dir=os.environ.get("TMPDIR", "/tmp")))
    path = folder / "values.strata"
    try:
        subprocess.run([args.strata, "gen", str(path), "--size", args.size, "--low", "0",
                        "--high", "100"], check=True, stdout=subprocess.DEVNULL)
        rt = strata.runtime()
        part = strata.open(str(path)).partition()
        values = part.values()  # verifies every chunk; the file stays in the page cache
        data_bytes = values.nbytes

        def timed_process(cmd):
            start = time.perf_counter()
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            return time.perf_counter() - start, out

        def cli_phases(*names):
            out = timed_process([args.strata, "stats", "--json", "--quiet", str(path)])[1]
            phases = json.loads(out)["run"]["phases"]
            return sum(phases[name] for name in names)

        # What a user runs: interpreter start, import (NumPy too), open, one verified pass.
        python_job = ("import sys, strata; "
                      "print(strata.stats(strata.open(sys.argv[1]).partition()).sum)")

        cases = {
            "numpy_stats": ("baseline", lambda: (values.sum(), values.min(), values.max(),
                                                 values.std())),
            "numpy_histogram": ("baseline", lambda: np.histogram(values, BINS, RANGE)),
            "strata_stats/partition": ("vs:numpy_stats", lambda: strata.stats(part)),
            "strata_stats/view": ("vs:numpy_stats", lambda: strata.stats(values)),
            "strata_summarize/partition": ("vs:numpy_stats",
                                           lambda: strata.summarize(part, bins=BINS, range=RANGE)),
            "cli_stats_compute": ("vs:numpy_stats", lambda: cli_phases("compute"), True),
            "cli_stats_open_compute": ("baseline", lambda: cli_phases("open", "compute"), True),
            "strata_stats/opened": ("vs:cli_stats_open_compute",
                                    lambda: strata.stats(strata.open(str(path)).partition())),
            "cli_stats_process": ("baseline", lambda: timed_process(
                [args.strata, "stats", "--json", "--quiet", str(path)])[0], True),
            "python_stats_process": ("vs:cli_stats_process", lambda: timed_process(
                [sys.executable, "-c", python_job, str(path)])[0], True),
            "strata_histogram/partition": ("vs:numpy_histogram",
                                           lambda: strata.histogram(part, BINS, RANGE)),
            "strata_histogram/view": ("vs:numpy_histogram",
                                      lambda: strata.histogram(values, BINS, RANGE)),
        }
        results = Results()
        for name in cases:  # the cases appear in this order
            results.order.setdefault(name, len(results.order))
        answers = {}
        for rep in range(args.repetitions):
            names = list(cases)
            random.shuffle(names)
            for name in names:
                label, f, *timed_outside = cases[name]
                if timed_outside:  # f measures a process and returns its seconds
                    seconds = f()
                else:
                    start = time.perf_counter()
                    answers[name] = f()
                    seconds = time.perf_counter() - start
                results.add(name, seconds, data_bytes, label, rep)

        total, low, high, std = answers["numpy_stats"]
        s = answers["strata_stats/partition"]
        rel = abs(s.sum - total) / abs(total)
        if s.min != low or s.max != high or rel > 1e-9 or abs(s.stddev - std) > 1e-9 * std:
            sys.exit("python: strata's and numpy's statistics differ: a fast wrong answer is no result")
        if not (answers["strata_histogram/partition"].counts == answers["numpy_histogram"][0]).all():
            sys.exit("python: strata's and numpy's histograms differ")
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()

    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    context = {
        "date": now.isoformat(timespec="seconds"),
        "host_name": socket.gethostname(),
        "executable": str(Path(__file__)),
        "num_cpus": os.cpu_count(),
        "load_avg": list(load_start),
        "python_file_bytes": data_bytes,
        "python_threads": rt.threads,
        "python_load_avg_at_end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python_numpy": f"numpy {np.__version__}; sum agrees to {rel:.1e} (relative), "
                        "min, max, std and the 64 histogram counts equal",
        "python_repetitions": f"{args.repetitions}, warm",
    }
    results.write(args.out, context)
    print(f"python: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
