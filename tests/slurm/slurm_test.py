#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Slurm end to end on a real one-node cluster (slurm/local-cluster): the analysis template on 2
ranks gives the numbers of a direct mpiexec run with every thread inside the CPUs srun gave its
rank; the simulation template, stopped with USR1 after its first checkpoint, checkpoints, exits
75, requeues itself, restarts with SLURM_RESTART_COUNT=1 from that checkpoint and ends with the
checksum of an uninterrupted run. The cluster is always stopped, also when a step fails.

Run by CTest (tests/slurm/CMakeLists.txt, label `slurm`); by hand:
  tests/slurm/slurm_test.py --source-dir . --bin-dir build/release/examples \
      --strata build/release/cli/strata --work-dir /tmp/strata-slurm-test
Exits 0 on success, 1 on failure, 77 (CTest: skipped) when Slurm cannot start on this machine.
"""
import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

SKIP = 77
# The whole run must end well inside CTest's TIMEOUT (300 s), so that the cluster is stopped by
# this script rather than left behind by a killed one.
DEADLINE_SECONDS = 270
start_time = time.monotonic()


class Failure(Exception):
    pass


def log(message):
    print(f"[{time.monotonic() - start_time:6.1f}s] {message}", flush=True)


def seconds_left():
    return DEADLINE_SECONDS - (time.monotonic() - start_time)


def run(command, env, timeout=60, check=True, **kwargs):
    timeout = max(1, min(timeout, seconds_left()))
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                            **kwargs)
    if check and result.returncode != 0:
        raise Failure(f"{' '.join(map(str, command))} exited {result.returncode}\n"
                      f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def wait_for(what, predicate, timeout, interval=0.2):
    deadline = time.monotonic() + min(timeout, seconds_left())
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise Failure(f"timed out waiting for {what}")


def free_port_pair():
    """A port P with P and P+1 free on loopback (slurmctld and slurmd), so that this test does
    not collide with another cluster on the machine (a user's, or another build's test)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 1 >= 65536:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise Failure("no free pair of ports on loopback")


def try_lock(file):
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def job_field(job, field, env):
    out = run(["scontrol", "show", "job", str(job)], env, check=False).stdout
    m = re.search(rf"\b{field}=(\S+)", out)
    return m.group(1) if m else None


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


# ---- analysis ------------------------------------------------------------------------------

RESULT_LINES = ("dataset", "count", "mean", "stddev", "min", "max", "sum", "above", "histogram",
                "ranks")


def analysis_results(text):
    """The result lines of strata_analysis's output (not the timings), values as numbers."""
    results = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "wall":  # timings from here on
            break
        if words[0] in RESULT_LINES:
            results[words[0]] = words[1:]
        elif "|" in line:  # a histogram bar: "  edge | ### count"
            results[f"bin {words[0]}"] = [words[-1]]
    return results


def same_number(a, b):
    try:
        x, y = float(a.rstrip(",")), float(b.rstrip(","))
    except ValueError:
        return a == b
    return x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def compare_analysis(direct, job):
    for key in ("count", "mean", "stddev", "min", "max", "sum", "above", "histogram", "ranks"):
        if key not in job:
            raise Failure(f"the job's output has no '{key}' line")
    if set(direct) != set(job):
        raise Failure(f"result lines differ: direct {sorted(direct)} job {sorted(job)}")
    for key in direct:
        if key == "ranks":  # "2, threads per rank N, kernels on X": only the rank count matters
            if direct[key][0] != job[key][0]:
                raise Failure(f"ranks: direct {direct[key]} job {job[key]}")
            continue
        a, b = direct[key], job[key]
        if len(a) != len(b) or not all(same_number(x, y) for x, y in zip(a, b)):
            raise Failure(f"'{key}' differs: direct {' '.join(a)} | job {' '.join(b)}")


def parse_cpu_list(text):
    cpus = set()
    for part in text.strip().split(","):
        if "-" in part:
            lo, hi = part.split("-")
            cpus.update(range(int(lo), int(hi) + 1))
        elif part:
            cpus.add(int(part))
    return frozenset(cpus)


class ThreadSampler:
    """Samples, every few milliseconds, the CPU affinity of every thread of every process running
    `executable`: (rank from SLURM_PROCID, pid, tid, CPUs, threads the process had then)."""

    def __init__(self, executable):
        self.executable = os.path.realpath(executable)
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        while not self._stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.readlink(f"/proc/{pid}/exe") != self.executable:
                        continue
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        environ = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
                    rank = int(environ.get(b"SLURM_PROCID", b"-1"))
                    tids = os.listdir(f"/proc/{pid}/task")
                    for tid in tids:
                        with open(f"/proc/{pid}/task/{tid}/status") as f:
                            m = re.search(r"^Cpus_allowed_list:\s*(\S+)", f.read(), re.M)
                        if m:
                            cpus = parse_cpu_list(m.group(1))
                            self.samples.append((rank, pid, tid, cpus, len(tids)))
                except (OSError, ValueError):
                    continue  # the process or thread ended while being read
            time.sleep(0.002)


def check_pinning(sampler, rank_cpus, threads_per_rank):
    """Every thread of rank r stays within the CPUs srun gave rank r.

    The main thread is held to it once the process has all its threads (the kernels are running):
    while MPI starts, libraries it loads (Open MPI's libpsm2 and libinfinipath, hwloc's x86
    discovery) bind the main thread to each CPU in turn and restore it (strace -k shows it)."""
    most_threads = {}
    for rank, pid, _, _, count in sampler.samples:
        most_threads[pid] = max(most_threads.get(pid, 0), count)
    for rank, cpus in rank_cpus.items():
        mine = [s for s in sampler.samples if s[0] == rank]
        if not mine:
            raise Failure(f"no thread of rank {rank} was sampled while the job ran")
        steady = 0
        for _, pid, tid, seen, count in mine:
            if tid == pid and count < most_threads[pid]:
                continue
            steady += 1
            if not seen <= cpus:
                raise Failure(f"rank {rank} thread {tid} (process {pid}, {count} threads) may run "
                              f"on CPUs {sorted(seen)}, outside the rank's {sorted(cpus)}")
        top = max(most_threads[s[1]] for s in mine)
        log(f"rank {rank}: {len({s[2] for s in mine})} threads, {steady} samples while running "
            f"(up to {top} threads at once, {threads_per_rank} executor threads asked), all "
            f"within CPUs {sorted(cpus)}")
        if top <= threads_per_rank:
            raise Failure(f"rank {rank}: never saw its {threads_per_rank} executor threads")


def test_analysis(args, env, work):
    dataset = os.path.join(work, "data.strata")
    # --overwrite: the work folder is kept between runs.
    run([args.strata, "gen", "--size", "256M", "--seed", "7", "--overwrite", dataset], env,
        timeout=120)
    analysis_args = [dataset, "--bins", "32", "--range", "0", "100", "--above", "75"]

    # The rank's CPUs as srun gives them, seen through the runtime's own topology.
    info = run(["srun", "--mpi=pmix", "-n", "2", "-c", "1", "--cpu-bind=cores", args.strata,
                "info", "--json"], env, timeout=60)
    ranks = json.loads(info.stdout)["ranks"]
    rank_cpus = {r["slurm"]["proc_id"]: parse_cpu_list(r["topology"]["allowed_cpus"])
                 for r in ranks}
    shown = {rank: sorted(cpus) for rank, cpus in rank_cpus.items()}
    log(f"strata info under srun -n2 -c1: allowed CPUs per rank {shown}")
    if sorted(rank_cpus) != [0, 1]:
        raise Failure(f"strata info under srun reported ranks {sorted(rank_cpus)}")
    if any(len(c) != 1 for c in rank_cpus.values()) or rank_cpus[0] == rank_cpus[1]:
        raise Failure("srun -c1 --cpu-bind=cores did not give each rank its own CPU")

    direct = run([args.mpiexec, "-np", "2", "--oversubscribe",
                  os.path.join(args.bin_dir, "strata_analysis")] + analysis_args, env, timeout=120)
    out = os.path.join(work, "analysis-%j.out")
    threads_per_rank = 3
    job_env = dict(env, STRATA_THREADS=str(threads_per_rank))
    with ThreadSampler(os.path.join(args.bin_dir, "strata_analysis")) as sampler:
        submitted = run(["sbatch", "--parsable", "--wait", f"--output={out}",
                         os.path.join(args.source_dir, "slurm", "analysis.sbatch")] + analysis_args,
                        job_env, timeout=150, check=False, cwd=work)
    job = submitted.stdout.strip().split(";")[0]
    job_log = read(out.replace("%j", job))
    log(f"analysis job {job} exited {submitted.returncode}:\n{job_log}")
    if submitted.returncode != 0:
        raise Failure(f"sbatch --wait analysis.sbatch exited {submitted.returncode}: "
                      f"{submitted.stderr}")
    job_results = analysis_results(job_log)
    compare_analysis(analysis_results(direct.stdout), job_results)
    # "ranks 2, threads per rank 3, ...": STRATA_THREADS reached the ranks through sbatch and srun.
    if job_results["ranks"][:5] != ["2,", "threads", "per", "rank", f"{threads_per_rank},"]:
        raise Failure(f"the job's ranks line is {' '.join(job_results['ranks'])}")
    log("analysis job output matches the direct mpiexec run")
    check_pinning(sampler, rank_cpus, threads_per_rank)


# ---- simulation ----------------------------------------------------------------------------

def test_simulation(args, env, work, sbatch_options=()):
    """`sbatch_options` go before the template (tests/cluster spreads the job over nodes)."""
    heat = os.path.join(args.bin_dir, "strata_heat")
    if not os.access(heat, os.X_OK):
        raise Failure(f"{heat} is not built: the requeue test needs examples/heat")
    grid = ["--nx", "256", "--ny", "256", "--steps", "60", "--alpha", "0.2", "--level", "1"]

    reference = run([args.mpiexec, "-np", "2", "--oversubscribe", heat, "--ckpt-dir",
                     os.path.join(work, "ckpt-reference"), "--every-steps", "0"] + grid, env,
                    timeout=120)
    m = re.search(r"^checksum (0x[0-9a-f]{16})$", reference.stdout, re.M)
    if not m:
        raise Failure(f"the uninterrupted run printed no checksum:\n{reference.stdout}")
    expected_checksum = m.group(1)
    log(f"uninterrupted run: checksum {expected_checksum}")

    out = os.path.join(work, "heat.out")
    # A lead time of 20 s is ample for this job (steps of 0.1 s, checkpoints of milliseconds need
    # about 1.5 s): the job log must not carry the runtime's lead-time advice. The job's time
    # limit is far away, so Slurm never sends this signal itself; the test does, below.
    job_env = dict(env, STRATA_CKPT_DIR=os.path.join(work, "ckpt"), STRATA_SIGNAL_LEAD_SECONDS="20")
    job = run(["sbatch", "--parsable", f"--output={out}", "--signal=B:USR1@20", *sbatch_options,
               os.path.join(args.source_dir, "slurm", "simulation.sbatch"),
               "--every-steps", "10", "--keep", "2", "--step-delay-ms", "100"] + grid,
              job_env, cwd=work).stdout.strip().split(";")[0]
    log(f"simulation job {job} submitted")

    first = wait_for("the first checkpoint", lambda: re.search(r"^checkpoint step (\d+)$",
                                                                read(out), re.M), timeout=90)
    log(f"first checkpoint at step {first.group(1)}: scancel --signal=USR1 --batch {job}")
    run(["scancel", "--signal=USR1", "--batch", job], env)

    stopped = wait_for("'stopped at step N for requeue'", lambda: re.search(
        r"^stopped at step (\d+) for requeue$", read(out), re.M), timeout=60)
    stopped_step = int(stopped.group(1))
    # Requeued: pending again with one restart. Slurm holds a requeued job about 120 s
    # (Reason=BeginTime); as root the test lets it start at once instead of waiting.
    wait_for("the job to be requeued (pending, Restarts=1)",
             lambda: job_field(job, "JobState", env) == "PENDING"
             and job_field(job, "Restarts", env) == "1", timeout=60)
    log(f"stopped at step {stopped_step}; job {job} requeued (PENDING, Restarts=1, "
        f"Reason={job_field(job, 'Reason', env)}): releasing its begin time")
    # slurmd refuses a launch whose credential dates from the second of the job's last kill ("Job
    # credential revoked": Slurm compares whole seconds), which a job released at once can hit.
    time.sleep(2)
    run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env)

    wait_for("the requeued job to finish", lambda: job_field(job, "JobState", env) in
             ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"),
             timeout=120, interval=0.5)
    state, exit_code = job_field(job, "JobState", env), job_field(job, "ExitCode", env)
    job_log = read(out)
    log(f"simulation job {job}: {state} ExitCode={exit_code}\n{job_log}")
    if state != "COMPLETED" or exit_code != "0:0":
        raise Failure(f"the requeued job ended {state} with ExitCode={exit_code}")

    runs = job_log.split("SLURM_RESTART_COUNT=")
    expectations = [
        (r"SLURM_RESTART_COUNT=0,", "the first run's line with SLURM_RESTART_COUNT=0"),
        (r"^fresh start$", "the first run starting fresh"),
        (r"batch shell: SIGUSR1 received", "the batch shell trapping USR1"),
        (rf"^stopped at step {stopped_step} for requeue$", "the stop for requeue"),
        (r"checkpointed for requeue; requeueing job", "the template requeueing the job"),
        (r"SLURM_RESTART_COUNT=1,", "the second run's line with SLURM_RESTART_COUNT=1"),
        (r"^slurm restart count 1$", "the simulation reporting restart count 1"),
        (rf"^restored step {stopped_step}$", f"the second run restoring step {stopped_step}"),
        (rf"^checksum {expected_checksum}$", f"the uninterrupted checksum {expected_checksum}"),
        (r"^steps 60 ranks 2$", "steps 60 ranks 2"),
        (r"simulation finished \(run 2\)", "the second run finishing"),
    ]
    for pattern, what in expectations:
        if not re.search(pattern, job_log, re.M):
            raise Failure(f"the job log lacks {what} (/{pattern}/)")
    if "stop-signal lead time" in job_log:
        raise Failure("the runtime called a 20 s lead time too short for millisecond checkpoints")
    # The checkpoint restored is the one the stop committed, written in the first run.
    first_run = runs[1] if len(runs) > 1 else ""
    if not re.search(rf"^checkpoint step {stopped_step}$", first_run, re.M):
        raise Failure(f"the first run did not commit a checkpoint at step {stopped_step}")
    if len(runs) != 3:
        raise Failure(f"expected exactly 2 runs of the job, the log shows {len(runs) - 1}")
    log(f"requeue: checkpointed and stopped at step {stopped_step}, requeued, restarted with "
        f"SLURM_RESTART_COUNT=1 from step {stopped_step}, checksum {expected_checksum} as "
        "uninterrupted")
    return job_log


def cluster_arguments(parser):
    """The arguments every cluster test takes, added to `parser`."""
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--bin-dir", required=True,
                        help="folder of strata_analysis and strata_heat")
    parser.add_argument("--strata", required=True, help="the strata command")
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--work-dir", required=True, help="cluster state, datasets, job logs")


def cluster_paths(args):
    """Makes the parsed paths absolute; returns (work, state, start, stop)."""
    args.source_dir = os.path.realpath(args.source_dir)
    args.bin_dir = os.path.realpath(args.bin_dir)
    args.strata = os.path.realpath(args.strata)
    work = os.path.realpath(args.work_dir)
    scripts = os.path.join(args.source_dir, "slurm", "local-cluster")
    return (work, os.path.join(work, "cluster"), os.path.join(scripts, "start"),
            os.path.join(scripts, "stop"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cluster_arguments(parser)
    args = parser.parse_args()
    work, state, start, stop = cluster_paths(args)

    env = dict(os.environ)
    # Open MPI refuses to run as root without these (the cluster runs jobs as the submitting user).
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none",
               STRATA_BIN_DIR=args.bin_dir, STRATA_SLURM_PORT=str(free_port_pair()),
               SLURM_CONF=os.path.join(state, "etc", "slurm.conf"))
    for variable in list(env):  # never inherit an outer job's identity
        if (variable.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))
                and variable != "SLURM_CONF"):
            del env[variable]

    # One run per work folder at a time: a second `ctest` in the same build tree waits here
    # rather than stopping this run's cluster below.
    os.makedirs(os.path.dirname(work), exist_ok=True)
    lock = open(work + ".lock", "w")
    try:
        wait_for(f"another slurm test using {work} to finish", lambda: try_lock(lock),
                 timeout=100, interval=1)
    except Failure as e:
        print(f"FAILED: {e}", flush=True)
        return 1

    # A previous run killed before it could stop its cluster.
    subprocess.run([stop, state], env=env, capture_output=True, timeout=60)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    # CTest kills a test that times out; stop the cluster on TERM/INT as on any other exit.
    def on_signal(number, _frame):
        raise Failure(f"interrupted by signal {number}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    failed = False
    try:
        # Inside the try: a start that hangs or is interrupted may have left daemons to stop.
        started = subprocess.run([start, state], env=env, capture_output=True, text=True,
                                 timeout=90)
        if started.returncode == SKIP:
            print(f"SKIPPED: {started.stderr.strip()}", flush=True)
            return SKIP
        if started.returncode != 0:
            raise Failure(f"local-cluster/start exited {started.returncode}:\n{started.stderr}")
        log(started.stderr.strip())
        test_analysis(args, env, work)
        test_simulation(args, env, work)
    except (Failure, subprocess.TimeoutExpired) as e:
        failed = True
        print(f"FAILED: {e}", flush=True)
        for name in ("slurmctld.log", "slurmd.log"):
            text = read(os.path.join(state, "log", name)).splitlines()
            print(f"---- last lines of {name}\n" + "\n".join(text[-25:]), flush=True)
    finally:
        stopped = subprocess.run([stop, state], env=env, capture_output=True, text=True, timeout=60)
        log(stopped.stderr.strip())
        if stopped.returncode != 0:
            print(f"FAILED: local-cluster/stop exited {stopped.returncode}", flush=True)
            failed = True
    if not failed:
        log("PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
