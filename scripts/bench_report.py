#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes docs/benchmarks.md and one plot per suite (docs/bench/<suite>.png) from the Google
Benchmark JSON that scripts/bench leaves in build/release/bench-results/<suite>.json.

Each suite's latest result is also kept as docs/bench/<suite>.json, so a run of only some suites
merges with the committed results of the others. Ratios follow the label convention of
bench/README.md. Exits 1 (after writing) when a case breaks that convention.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
from pathlib import Path

try:
    import matplotlib
except ImportError:
    sys.exit("bench_report: matplotlib is missing for this python3 (" + sys.executable + "); "
             "run it with /usr/bin/python3 after scripts/setup (python3-matplotlib)")

matplotlib.use("Agg")  # no display on a cluster node or in CI
import matplotlib.pyplot as plt  # noqa: E402  (must follow the backend choice)

ROOT = Path(__file__).resolve().parent.parent

# Suites in the order the report shows them: the limits first, as everything is read against
# them; suites not named here follow alphabetically.
SUITE_ORDER = ["limits", "memory", "io", "resident", "kernels", "user_path", "python", "checkpoint",
               "checkpoint_levels", "pools", "pools_glibc", "pools_jemalloc", "scale"]

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Parts of a benchmark's full name that only record how it was run; the report's short names drop
# them (the labels and the JSON keep the full names).
RUN_SETTING = re.compile(r"^(min_time|min_warmup_time|repeats|repetitions|iterations):|"
                         r"^(real_time|manual_time|process_time)$")


def short_name(run_name):
    return "/".join(p for p in run_name.split("/") if not RUN_SETTING.match(p))


# ---------------------------------------------------------------------------------------------
# Machine description, taken when a result first comes in from the results folder (which
# scripts/bench fills on this machine a moment before), and kept with the result from then on.

def read_text(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def this_machine():
    cpuinfo = read_text("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    cores = {(m.group(1), m.group(2)) for m in re.finditer(
        r"physical id\s*:\s*(\d+).*?core id\s*:\s*(\d+)", cpuinfo, re.S)}
    sockets = {c[0] for c in cores}
    mem = re.search(r"^MemTotal:\s*(\d+) kB", read_text("/proc/meminfo"), re.M)
    numa_nodes = len(list(Path("/sys/devices/system/node").glob("node[0-9]*")))
    virtual = re.search(r"^flags\s*:.*\bhypervisor\b", cpuinfo, re.M) is not None
    return {
        "cpu_model": model.group(1).strip() if model else platform.processor() or "unknown",
        "logical_cpus": os.cpu_count(),
        "physical_cores": len(cores) or None,
        "sockets": len(sockets) or None,
        "numa_nodes": numa_nodes or None,
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "kernel": platform.release(),
        "os": os_name(),
        "virtual_machine": virtual,
    }


def os_name():
    text = read_text("/etc/os-release")
    m = re.search(r'^PRETTY_NAME="?([^"\n]+)"?$', text, re.M)
    return m.group(1) if m else platform.system()


# ---------------------------------------------------------------------------------------------
# Loading results.

def run_date(result):
    try:
        return datetime.datetime.fromisoformat(result["context"]["date"])
    except (KeyError, ValueError):
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def load_results(results_dir, snapshot_dir, fresh_suites=None):
    """{suite: result}: the snapshot of each suite, replaced by the results folder's when that one
    is at least as new. Only the suites in fresh_suites (those scripts/bench just ran) are taken
    from the results folder when it is given, so a stale local result of another suite never
    replaces its committed snapshot. A fresh result gets this machine's description."""
    results = {}
    for path in sorted(snapshot_dir.glob("*.json")):
        results[path.stem] = json.loads(path.read_text())
    if results_dir.is_dir():
        for path in sorted(results_dir.glob("*.json")):
            if fresh_suites is not None and path.stem not in fresh_suites:
                continue
            try:
                fresh = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                print(f"bench_report: skipping {path}: not valid JSON ({e})", file=sys.stderr)
                continue
            old = results.get(path.stem)
            if old is None or run_date(fresh) >= run_date(old):
                fresh["context"].setdefault("strata_machine", this_machine())
                results[path.stem] = fresh
    return results


def cases_of(result):
    """The cases of one suite in run order, each a dict: name, label, time_ns, bytes_per_second,
    items_per_second, cv (relative spread of the time over repetitions) and error."""
    by_name = {}
    # Registration order, not the order of the JSON, which random interleaving shuffles.
    entries = sorted(result.get("benchmarks", []),
                     key=lambda b: (b.get("family_index", 0), b.get("per_family_instance_index", 0)))
    for b in entries:
        name = b.get("run_name", b["name"])
        by_name.setdefault(name, []).append(b)
    cases = []
    for name, entries in by_name.items():
        aggregates = {e.get("aggregate_name"): e for e in entries if e.get("run_type") == "aggregate"}
        iterations = [e for e in entries if e.get("run_type", "iteration") == "iteration"]
        label = next((e["label"] for e in entries if e.get("label")), "")
        error = next((e.get("error_message", "error") for e in entries if e.get("error_occurred")),
                     None)
        case = {"name": name, "label": label, "error": error, "cv": None}
        if "median" in aggregates:
            med = aggregates["median"]
            case["time_ns"] = med["real_time"] * TIME_UNIT_NS[med.get("time_unit", "ns")]
            for key in ("bytes_per_second", "items_per_second"):
                case[key] = med.get(key)
            if "cv" in aggregates:
                case["cv"] = aggregates["cv"]["real_time"]
        elif iterations:
            times = [e["real_time"] * TIME_UNIT_NS[e.get("time_unit", "ns")] for e in iterations]
            case["time_ns"] = statistics.median(times)
            for key in ("bytes_per_second", "items_per_second"):
                values = [e[key] for e in iterations if key in e]
                case[key] = statistics.median(values) if values else None
            if len(times) > 1 and statistics.mean(times) > 0:
                case["cv"] = statistics.stdev(times) / statistics.mean(times)
        else:
            continue
        cases.append(case)
    return cases


# ---------------------------------------------------------------------------------------------
# Ratios (bench/README.md): case throughput / baseline throughput, so > 1 is faster.

def ratio(case, base):
    for key in ("bytes_per_second", "items_per_second"):
        if case.get(key) and base.get(key):
            return case[key] / base[key]
    if case.get("time_ns") and base.get("time_ns"):
        return base["time_ns"] / case["time_ns"]
    return None


def resolve_ratios(suite, cases, problems):
    by_name = {c["name"]: c for c in cases}
    for c in cases:
        c["ratio"], c["baseline"] = None, None
        if c["error"]:
            continue
        if c["label"] == "baseline":
            c["ratio"], c["baseline"] = 1.0, c["name"]
        elif c["label"].startswith("vs:"):
            target = c["label"][3:]
            if target in by_name and not by_name[target]["error"]:
                c["ratio"], c["baseline"] = ratio(c, by_name[target]), target
            else:
                problems.append(f"{suite}: {c['name']} is labelled vs:{target}, "
                                "which is missing or failed in this run")
        else:
            problems.append(f"{suite}: {c['name']} has no ratio label "
                            "(\"baseline\" or \"vs:<name>\")")
    if not any(c["label"] == "baseline" for c in cases):
        problems.append(f"{suite}: no case is labelled \"baseline\"")


# ---------------------------------------------------------------------------------------------
# Formatting.

def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_throughput(case):
    if case.get("bytes_per_second"):
        return f"{case['bytes_per_second'] / 1e9:.2f} GB/s"
    if case.get("items_per_second"):
        v = case["items_per_second"]
        for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if v >= scale:
                return f"{v / scale:.3g} {unit} items/s"
        return f"{v:.3g} items/s"
    return "—"


def fmt_ratio(case):
    if case["ratio"] is None:
        return "—"
    return f"{case['ratio']:.2f}×"


def suite_sort_key(suite):
    return (SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER), suite)


# ---------------------------------------------------------------------------------------------
# Plot: one horizontal bar per case, its ratio to its baseline, with the run's spread.

def plot_suite(suite, cases, path):
    shown = [c for c in cases if c["ratio"]]  # a ratio of 0 (or none) has no bar to draw
    if not shown:
        return False
    names = [short_name(c["name"]) for c in shown]
    ratios = [c["ratio"] for c in shown]
    spread = [c["ratio"] * (c["cv"] or 0.0) for c in shown]
    colours = ["#4c72b0" if c["label"] == "baseline" else "#dd8452" for c in shown]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * len(shown)))
    y = range(len(shown))
    ax.barh(y, ratios, xerr=spread, color=colours, capsize=3, error_kw={"elinewidth": 1})
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()  # run order, top to bottom
    ax.axvline(1.0, color="black", linewidth=0.8)
    wide_range = max(ratios) / min(ratios) > 30
    if wide_range:
        ax.set_xscale("log")
    ax.set_xlim(right=max(r + s for r, s in zip(ratios, spread)) * (3 if wide_range else 1.35))
    for yi, c in zip(y, shown):
        ax.text(c["ratio"] * (1 + (c["cv"] or 0.0)), yi,
                f"  {c['ratio']:.2f}×  {fmt_throughput(c)}", va="center", fontsize=9)
    baselines = sorted({short_name(c["baseline"]) for c in shown})
    ax.set_xlabel("throughput ÷ baseline throughput (higher is faster; bar = median, "
                  "whisker = spread over repetitions)")
    # A suite with a baseline per setting (scale: one per case and rank count) names them in its
    # table instead.
    shown_baselines = (", ".join(baselines) if len(baselines) <= 10
                       else f"{len(baselines)} baselines (see the table)")
    ax.set_title(f"{suite}: ratio to baseline {shown_baselines}", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------------
# The report.

STANDARD_CONTEXT = {"date", "host_name", "executable", "num_cpus", "mhz_per_cpu",
                    "cpu_scaling_enabled", "caches", "load_avg", "library_build_type",
                    "strata_machine"}


def machine_key(result):
    ctx = result["context"]
    return json.dumps([ctx.get("host_name"), ctx.get("strata_machine")], sort_keys=True)


def machine_section(results):
    groups = {}
    for suite in sorted(results, key=suite_sort_key):
        groups.setdefault(machine_key(results[suite]), []).append(suite)
    lines = ["## The machine", ""]
    for suites in groups.values():
        ctx = results[suites[0]]["context"]
        m = ctx.get("strata_machine", {})
        if len(groups) > 1:
            lines += [f"Suites {', '.join(suites)}:", ""]
        caches = ", ".join(
            f"L{c['level']} {c['type'].lower()} {c['size'] // 1024} KiB"
            + (f" (shared by {c['num_sharing']})" if c.get("num_sharing", 1) > 1 else "")
            for c in ctx.get("caches", []))
        cores = m.get("physical_cores")
        rows = [
            ("host", ctx.get("host_name", "?")),
            ("CPU", f"{m.get('cpu_model', '?')}, {ctx.get('mhz_per_cpu', '?')} MHz"
                    + (", frequency scaling on" if ctx.get("cpu_scaling_enabled") else "")),
            ("cores", f"{ctx.get('num_cpus', '?')} logical CPUs"
                      + (f", {cores} physical cores" if cores else "")
                      + (f", {m['sockets']} socket" + ("s" if m["sockets"] > 1 else "") if m.get("sockets") else "")
                      + (f", {m['numa_nodes']} NUMA node" + ("s" if m["numa_nodes"] > 1 else "") if m.get("numa_nodes") else "")
                      + (", virtual machine" if m.get("virtual_machine") else "")),
            ("caches", caches or "?"),
            ("memory", f"{m['memory_gib']} GiB" if m.get("memory_gib") else "?"),
            ("kernel", f"Linux {m.get('kernel', '?')}, {m.get('os', '?')}"),
            ("runs", "; ".join(f"{s} {results[s]['context'].get('date', '?')}" for s in suites)),
        ]
        lines += ["| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows] + [""]
    return lines


def suite_section(suite, result, cases, plotted):
    ctx = result["context"]
    load = ", ".join(f"{x:.2f}" for x in ctx.get("load_avg", []))
    lines = [f"## {suite}", "",
             f"Run {ctx.get('date', '?')} on {ctx.get('host_name', '?')}"
             + (f"; load average at start {load}" if load else "")
             + f"; `{Path(ctx.get('executable', '?')).name}`.", ""]
    busy = ctx.get("load_avg") and ctx.get("num_cpus") and ctx["load_avg"][0] > ctx["num_cpus"] / 2
    if busy and str(ctx.get("priority", "")).startswith("real-time"):
        lines += [f"The machine was busy (load average {ctx['load_avg'][0]:.1f} on "
                  f"{ctx['num_cpus']} CPUs when the run started), but the cases ran at real-time "
                  "priority: the other work waited while each case ran.", ""]
    elif busy:
        lines += [f"**The machine was busy** (load average {ctx['load_avg'][0]:.1f} on "
                  f"{ctx['num_cpus']} CPUs when the run started): the all-threads cases shared "
                  "their CPUs with other work; read the ratios with the spread column.", ""]
    extra = [(k, v) for k, v in ctx.items() if k not in STANDARD_CONTEXT]
    if extra:
        lines += ["Settings: " + "; ".join(f"`{k}` = {v}" for k, v in extra) + ".", ""]
    lines += ["| case | time | throughput | ratio | baseline | spread |",
              "| --- | ---: | ---: | ---: | --- | ---: |"]
    for c in cases:
        if c["error"]:
            lines.append(f"| `{short_name(c['name'])}` | error: {c['error']} | | | | |")
            continue
        base = "(this is the baseline)" if c["label"] == "baseline" else (
            f"`{short_name(c['baseline'])}`" if c["baseline"] else f"? ({c['label'] or 'no label'})")
        spread = f"±{100 * c['cv']:.1f} %" if c["cv"] is not None else "—"
        lines.append(f"| `{short_name(c['name'])}` | {fmt_time(c['time_ns'])} | "
                     f"{fmt_throughput(c)} | {fmt_ratio(c)} | {base} | {spread} |")
    lines.append("")
    if plotted:
        lines += [f"![{suite}: ratios to baseline](bench/{suite}.png)", ""]
    targets = ROOT / "bench" / suite / "targets.md"
    if not targets.is_file() and "_" in suite:  # a second run of a suite: bench/<suite>/targets_<run>.md
        base, run = suite.split("_", 1)
        targets = ROOT / "bench" / base / f"targets_{run}.md"
    lines += ["**Targets.** " + (targets.read_text().strip() if targets.is_file() else
                                 f"None set yet (write them in `bench/{suite}/targets.md`)."), ""]
    return lines


def header_lines():
    return [
        "# strata benchmarks",
        "",
        "Written by `scripts/bench` (through `scripts/bench_report.py`) from the JSON of the last "
        "run of each suite; do not edit by hand. A suite's **Targets** note comes from "
        "`bench/<suite>/targets.md`. How to run, label and add suites: `bench/README.md`.",
        "",
        "## How to read the numbers",
        "",
        "Every case names a **baseline** in the same binary and the same run, and is reported as a "
        "ratio to it, so the noise of a shared machine mostly cancels:",
        "",
        "- ratio = case throughput ÷ baseline throughput, using `bytes_per_second` when both "
        "report it, else `items_per_second`, else baseline time ÷ case time. "
        "**Above 1 is faster than the baseline.**",
        "- A case's label says which baseline: `baseline` for the baseline itself, "
        "`vs:<full benchmark name>` otherwise.",
        "- time and throughput are the median over the suite's repetitions; *spread* is the "
        "coefficient of variation of the time over those repetitions (the plot's whiskers). "
        "`scripts/bench` runs the repetitions of all cases of a suite in random order "
        "(`--benchmark_enable_random_interleaving`), so a busy spell hits cases and baseline alike. "
        "Time is the wall-clock time of one iteration (with several threads, of each thread's "
        "pass over its own slice).",
        "- GB/s is 10⁹ bytes per second. Bandwidth counts bytes as STREAM does: a copy moves 2 "
        "bytes per byte copied (read + write), a triad 3 per element byte; the extra read that a "
        "normal store causes (write-allocate) is not counted.",
        "- Case names here drop the run settings; the full names (in labels and JSON) carry "
        "them, as in `read_sum/min_time:0.200/repeats:10/real_time/threads:1`.",
        "- The `limits` suite is the machine's own ceiling: the other suites' targets are stated "
        "as fractions of it.",
        "",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "build/release/bench-results",
                        help="folder of <suite>.json files from the benchmark binaries")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs",
                        help="folder that receives benchmarks.md and bench/")
    parser.add_argument("--fresh", nargs="*", metavar="SUITE",
                        help="take only these suites from --results (the ones just run); "
                             "the others keep their committed snapshot in docs/bench/")
    args = parser.parse_args()

    snapshot_dir = args.docs / "bench"
    results = load_results(args.results, snapshot_dir,
                           set(args.fresh) if args.fresh is not None else None)
    if not results:
        print(f"bench_report: no results in {args.results} or {snapshot_dir}", file=sys.stderr)
        return 1

    problems = []
    body = []
    for suite in sorted(results, key=suite_sort_key):
        cases = cases_of(results[suite])
        resolve_ratios(suite, cases, problems)
        plotted = plot_suite(suite, cases, snapshot_dir / f"{suite}.png")
        body += suite_section(suite, results[suite], cases, plotted)

    snapshot_dir.mkdir(parents=True, exist_ok=True)
    for suite, result in results.items():
        (snapshot_dir / f"{suite}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = header_lines() + machine_section(results) + body
    (args.docs / "benchmarks.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"bench_report: wrote {args.docs / 'benchmarks.md'} "
          f"({', '.join(sorted(results, key=suite_sort_key))})")
    for p in problems:
        print(f"bench_report: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
