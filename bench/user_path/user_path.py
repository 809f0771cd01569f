#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The user_path suite: `strata stats FILE` and `strata hist` as a user runs them, whole processes
(start, open, map, verify, compute, exit) on a 2 GiB .strata file, warm (in the page cache) and
cold (caches dropped, where this process may write /proc/sys/vm/drop_caches), against the
independent read limit (bench/limits' `read_limit`, run in the same call), `dd` and a read() loop
of the same file, and a numpy reference (np.memmap; sum/min/max/std, np.histogram with 64 bins).

Writes Google Benchmark-shaped JSON (one entry per repetition, with labels) that
scripts/bench_report.py reads like any suite's. The cases of one repetition run in a shuffled
order, so a busy spell of a shared machine falls on every case alike.

Usage: user_path.py --strata build/release/cli/strata --limits build/release/bench/limits/...
                    --out build/release/bench-results/user_path.json
"""

import argparse
import datetime
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE = "read_limit/threads:2"
HIST_RANGE = ("0", "100")
HIST_BINS = "64"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def timed(cmd):
    """Wall seconds of a whole process, from before its start to after it is reaped, and its
    standard output. The command's own exit status must be 0."""
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"user_path: {' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout


def drop_caches():
    """Writes back and drops the page cache; the reason as a string when this process may not."""
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
        return None
    except OSError as e:
        return f"cannot write {DROP_CACHES} ({e.strerror}): cold cases skipped"


def array_layout(strata, path):
    info = json.loads(run([strata, "inspect", "--json", str(path)]).stdout)
    a = info["arrays"][0]
    return a["data_offset"], a["data_bytes"], a["shape"][0]


def limits_cases(limits):
    """The independent read limit and the mapped-file sum of bench/limits, run now: {name: entry}
    with the median rate of each, named without the run settings."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run([limits, "--benchmark_filter=^(read_limit|mapped_file_sum)/",
             "--benchmark_enable_random_interleaving=true",
             f"--benchmark_out={out.name}", "--benchmark_out_format=json"])
        result = json.loads(Path(out.name).read_text())
    cases = {}
    for b in result["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        parts = [p for p in b["run_name"].split("/")
                 if not p.startswith(("min_time:", "repeats:")) and p != "manual_time"]
        cases["/".join(parts)] = b["bytes_per_second"]
    return cases


class Results:
    """Entries in Google Benchmark's JSON shape, in the order the cases were first added."""

    def __init__(self):
        self.entries = []
        self.order = {}

    def add(self, name, seconds, data_bytes, label, repetition):
        """One repetition of a case; data_bytes None for a case whose ratio is one of times."""
        family = self.order.setdefault(name, len(self.order))
        entry = {
            "name": name, "run_name": name, "run_type": "iteration", "family_index": family,
            "per_family_instance_index": 0, "repetition_index": repetition, "iterations": 1,
            "real_time": seconds * 1e9, "cpu_time": seconds * 1e9, "time_unit": "ns",
            "label": label,
        }
        if data_bytes is not None:
            entry["bytes_per_second"] = data_bytes / seconds
        self.entries.append(entry)

    def write(self, out, context):
        """The suite's JSON at `out`, replaced whole (a partial file first, then renamed)."""
        if os.sched_getscheduler(0) in (os.SCHED_RR, os.SCHED_FIFO):
            # scripts/bench with STRATA_BENCH_PRIORITY=realtime: other work waited while cases ran.
            context = dict(context, priority=f"real-time {os.sched_getparam(0).sched_priority}")
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".json.partial")
        partial.write_text(json.dumps({"context": context, "benchmarks": self.entries}, indent=1))
        partial.replace(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strata", required=True, help="the strata command (build/release/cli/strata)")
    parser.add_argument("--limits", required=True, help="strata_bench_limits, for the read limit")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--size", default="2G", help="data bytes of the dataset (strata gen --size)")
    parser.add_argument("--repetitions", type=int, default=5, help="warm repetitions")
    parser.add_argument("--cold-repetitions", type=int, default=2)
    parser.add_argument("--python", default="/usr/bin/python3", help="the python with numpy")
    args = parser.parse_args()

    base = os.environ.get("TMPDIR") or "/tmp"
    folder = Path(tempfile.mkdtemp(prefix="strata_bench_user_path.", dir=base))
    try:
        return measure(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(args, folder):
    data = folder / "values.strata"
    tiny = folder / "tiny.strata"
    run([args.strata, "gen", "--size", args.size, "--kind", "normal", str(data)])
    run([args.strata, "gen", "--size", "1M", "--kind", "normal", str(tiny)])
    offset, data_bytes, count = array_layout(args.strata, data)
    load_start = os.getloadavg()

    results = Results()

    def limits_case(rep):
        # Once per repetition, among the other cases, so the baseline's median comes from the same
        # spells of a shared machine as theirs (each call's figure is its own median of 10).
        for name, rate in sorted(limits_cases(args.limits).items()):
            label = "baseline" if name == BASELINE else f"vs:{BASELINE}"
            results.add(name, data_bytes / rate, data_bytes, label, rep)

    limits_case(0)  # first, so the report lists the limits first

    strata = args.strata
    numpy_ok = shutil.which(args.python) is not None and subprocess.run(
        [args.python, "-c", "import numpy"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0
    checks = []

    def numpy_case(rep):
        seconds, out = timed([args.python, str(HERE / "numpy_reference.py"), str(data),
                              str(offset), str(count), *HIST_RANGE, HIST_BINS])
        ref = json.loads(out)
        results.add("numpy_stats", ref["stats_seconds"], data_bytes, "vs:strata_stats/threads:2",
                    rep)
        results.add("numpy_histogram", ref["hist_seconds"], data_bytes,
                    "vs:strata_hist/threads:2", rep)
        checks.append(ref)

    def stats_case(threads, rep):
        seconds, out = timed([strata, "stats", "--json", "--threads", str(threads), str(data)])
        s = json.loads(out)
        results.add(f"strata_stats/threads:{threads}", seconds, data_bytes, f"vs:{BASELINE}", rep)
        # The command's compute phase: verification and compute, no start-up, open or exit.
        results.add(f"strata_stats_in_process/threads:{threads}", s["run"]["phases"]["compute"],
                    data_bytes,
                    f"vs:{BASELINE}", rep)
        checks.append({"strata_sum": s["sum"], "strata_stddev": s["stddev"]})

    cases = {
        "stats1": lambda rep: stats_case(1, rep),
        "stats2": lambda rep: stats_case(2, rep),
        "hist2": lambda rep: results.add(
            "strata_hist/threads:2",
            timed([strata, "hist", "--json", "--threads", "2", "--bins", HIST_BINS, "--range",
                   *HIST_RANGE, str(data)])[0], data_bytes, f"vs:{BASELINE}", rep),
        # Verification alone (XXH3 of every chunk, two threads, no analysis): a phase of the above.
        "verify": lambda rep: results.add(
            "strata_verify/threads:2", timed([strata, "verify", "--threads", "2", str(data)])[0],
            data_bytes, f"vs:{BASELINE}", rep),
        "dd": lambda rep: results.add(
            "dd_bs8M", timed(["dd", f"if={data}", "of=/dev/null", "bs=8M"])[0], data_bytes,
            f"vs:{BASELINE}", rep),
        # Start-up and exit: the same command on a 1 MiB file. No bytes: its ratio is one of times,
        # the 2 GiB run's over this one's.
        "tiny": lambda rep: results.add(
            "strata_stats_1MiB_file", timed([strata, "stats", str(tiny)])[0], None,
            "vs:strata_stats/threads:2", rep),
    }
    if numpy_ok:
        cases["numpy"] = numpy_case

    cold_note = drop_caches()
    if cold_note is None:
        for rep in range(args.cold_repetitions):
            for name, cmd in random.sample([
                    ("cold/strata_stats/threads:2", [strata, "stats", "--threads", "2", str(data)]),
                    ("cold/dd_bs8M", ["dd", f"if={data}", "of=/dev/null", "bs=8M"])], 2):
                drop_caches()
                results.add(name, timed(cmd)[0], data_bytes,
                            "baseline" if name == "cold/dd_bs8M" else "vs:cold/dd_bs8M", rep)
        # Warm as a user's later runs find the file: its first run, strata's own, read it cold.
        # How that read fills the page cache (4 KiB or 2 MiB folios) is what every warm run maps.
        drop_caches()
        run([strata, "stats", str(data)])
        warm_up = "the page cache dropped, then filled by one untimed `strata stats` (a first run)"
    else:
        run(["dd", f"if={data}", "of=/dev/null", "bs=8M"])
        warm_up = "one untimed `dd` of the file (the page cache could not be dropped)"

    cases["limits"] = lambda rep: rep > 0 and limits_case(rep)  # rep 0's ran first
    for rep in range(args.repetitions):
        order = list(cases)
        random.shuffle(order)
        for key in order:
            cases[key](rep)

    numpy_ref = next((c for c in checks if "stats_seconds" in c), None)
    strata_ref = next((c for c in checks if "strata_sum" in c), None)
    agree = "not compared"
    if numpy_ref and strata_ref:
        rel = abs(numpy_ref["sum"] - strata_ref["strata_sum"]) / abs(numpy_ref["sum"])
        agree = f"sum agrees to {rel:.1e} (relative)"
        if rel > 1e-9:
            sys.exit(f"user_path: strata's sum {strata_ref['strata_sum']} and numpy's "
                     f"{numpy_ref['sum']} differ: a fast wrong answer is no result")

    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    context = {
        "date": now.isoformat(timespec="seconds"),
        "host_name": socket.gethostname(),
        "executable": str(Path(__file__)),
        "num_cpus": os.cpu_count(),
        "load_avg": list(load_start),
        "user_path_file_bytes": data_bytes,
        "user_path_load_avg_at_end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "user_path_cold": cold_note or "page cache dropped before each cold run",
        "user_path_warm_up": warm_up,
        "user_path_numpy": agree if numpy_ok else f"{args.python} has no numpy: rows skipped",
        "user_path_repetitions": f"{args.repetitions} warm, {args.cold_repetitions} cold",
    }
    results.write(args.out, context)
    print(f"user_path: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
