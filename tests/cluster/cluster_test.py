#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""strata across the nodes of a real multi-node Slurm cluster on this machine
(slurm/local-cluster/start --nodes 3: each node its own network, UTS and mount namespaces, its own
hostname, address, /dev/shm and /tmp; STATE/shared seen by all). One case per run (--case):

  analysis      analysis.sbatch on 2 nodes x 2 ranks writes the same result bits as 1 rank, and
                `strata info --json` under srun reports node_count 2 and each rank's node and
                local rank as Slurm placed it
  heat_restart  strata_heat on 2 nodes x 2 ranks checkpoints into the shared folder and restarts
                on 1 node x 3 ranks and on 3 nodes x 1 rank to the uninterrupted checksum
  requeue       simulation.sbatch on 2 nodes: USR1, checkpoint, exit 75, requeue, restart with
                SLURM_RESTART_COUNT=1, the uninterrupted checksum
  pinning       on 2 nodes x 2 ranks every thread of every rank stays inside the CPUs srun gave
                that rank on its node
  levels        strata_heat on node1 and node2 x 2 ranks with a node-local folder in each node's
                own /tmp, partner copies and the shared folder stops at step 40; node2's local
                folder is wiped; the restart rebuilds node2's shards from the partner copies on
                node1 ("restore level partner") and ends with the uninterrupted checksum
  node_shared   a node-shared dataset on 2 nodes x 2 ranks: while the job runs each node's two
                ranks map one segment (one inode of that node's own /dev/shm, its name already
                unlinked); after the job, ended normally or after a rank was SIGKILLed, no
                segment name is left in any node's /dev/shm and no process maps one
  node_failure  every process of the batch host of a 2-node simulation is SIGKILLed: the newest
                checkpoint verifies, Slurm requeues the job on the nodes left, and it restores the
                last committed checkpoint and ends with the uninterrupted checksum

Every case starts its own cluster under --work-dir and stops it on every exit, then checks that
no namespace, interface or daemon of it is left. A case that failed only by Open MPI's start-up
race (open_mpi_init_race) runs once more. Run by CTest (tests/cluster/CMakeLists.txt, label
`cluster`); by hand:
  tests/cluster/cluster_test.py --case analysis --source-dir . \
      --bin-dir build/release/examples --strata build/release/cli/strata --work-dir /tmp/ct
Exits 0 on success, 1 on failure, 77 (CTest: skipped) when the cluster cannot start here.
"""
import argparse
import glob
import json
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "slurm"))
import slurm_test as st  # noqa: E402  (run, wait_for, ThreadSampler, test_simulation, ...)

from slurm_test import Failure, log, run  # noqa: E402

SKIP = 77
NODES = 3
# Every case must end well inside CTest's TIMEOUT (480 s) so that it stops its own cluster; a
# case takes at most about 110 s, and runs a second time only after Open MPI's start-up race.
st.DEADLINE_SECONDS = 450


def cluster_env(state, base):
    """`base` plus the variables start wrote to STATE/env (SLURM_CONF, Open MPI's TCP interfaces,
    STRATA_CLUSTER_SHARED)."""
    env = dict(base)
    with open(os.path.join(state, "env")) as f:
        for line in f:
            m = re.match(r"export (\w+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    return env


def h5_bits(h5dump, path, datasets, work):
    """The raw bytes of each dataset of an HDF5 file, as h5dump writes them (native types)."""
    bits = {}
    for name in datasets:
        out = os.path.join(work, "dump.bin")
        run([h5dump, "-b", "NATIVE", "-d", name, "-o", out, path], None, timeout=60)
        with open(out, "rb") as f:
            bits[name] = f.read()
    return bits


def check_info(ranks, nodes, per_node):
    """Block placement (srun -N nodes --ntasks-per-node per_node): rank r on the job's node
    r // per_node as local rank r % per_node."""
    if sorted(r["mpi"]["rank"] for r in ranks) != list(range(nodes * per_node)):
        raise Failure(f"strata info reported ranks {[r['mpi']['rank'] for r in ranks]}")
    for r in ranks:
        mpi, slurm = r["mpi"], r["slurm"]
        rank = mpi["rank"]
        node, local = rank // per_node, rank % per_node
        expected = {"node_count": nodes, "node_index": node, "local_rank": local,
                    "local_size": per_node, "size": nodes * per_node}
        seen = {k: mpi[k] for k in expected}
        if seen != expected or slurm["proc_id"] != rank or slurm["node_id"] != node \
                or slurm["local_id"] != local or slurm["nnodes"] != nodes \
                or mpi["host"] != slurm["nodes"][node]:
            raise Failure(f"rank {rank}: strata info says mpi {seen}, host {mpi['host']}, slurm "
                          f"node_id {slurm['node_id']} local_id {slurm['local_id']} nodes "
                          f"{slurm['nodes']}; expected {expected} on {slurm['nodes'][node]}")
    hosts = sorted({r["mpi"]["host"] for r in ranks})
    if len(hosts) != nodes:
        raise Failure(f"the ranks ran on hosts {hosts}, not on {nodes} nodes")
    log(f"strata info: {len(ranks)} ranks on {hosts}, node index and local rank as placed")


# ---- cases ---------------------------------------------------------------------------------

def case_analysis(args, env, plain_env, work):
    shared = env["STRATA_CLUSTER_SHARED"]
    dataset = os.path.join(shared, "data.strata")
    run([args.strata, "gen", "--size", "64M", "--seed", "7", "--overwrite", dataset], plain_env,
        timeout=120)  # --overwrite: cases share the folder and its data.strata

    info = run(["srun", "--mpi=pmix", "-N", "2", "--ntasks-per-node=2", args.strata, "info",
                "--json"], env, timeout=90, cwd=shared)
    check_info(json.loads(info.stdout)["ranks"], nodes=2, per_node=2)

    analysis_args = [dataset, "--bins", "32", "--range", "0", "100", "--above", "75"]
    one = os.path.join(work, "one-rank.h5")
    run([args.mpiexec, "-np", "1", os.path.join(args.bin_dir, "strata_analysis")]
        + analysis_args + ["--out", one], plain_env, timeout=120)
    four = os.path.join(shared, "four-ranks.h5")
    out = os.path.join(shared, "analysis-%j.out")
    submitted = run(["sbatch", "--parsable", "--wait", "--nodes=2", "--ntasks-per-node=2",
                     "--ntasks=4", f"--output={out}",
                     os.path.join(args.source_dir, "slurm", "analysis.sbatch")]
                    + analysis_args + ["--out", four], env, timeout=150, check=False, cwd=shared)
    job = submitted.stdout.strip().split(";")[0]
    job_log = st.read(out.replace("%j", job))
    log(f"analysis job {job} exited {submitted.returncode}:\n{job_log}")
    if submitted.returncode != 0:
        raise Failure(f"sbatch --wait analysis.sbatch exited {submitted.returncode}")
    if not re.search(r"4 ranks x 1 CPUs", job_log) or not re.search(r"^ranks\s+4,", job_log, re.M):
        raise Failure("the job log does not show 4 ranks")
    nodes_line = re.search(r"on (\S+): 4 ranks", job_log)
    if not nodes_line or not re.fullmatch(r"node\[\d[-,]\d\]", nodes_line.group(1)):
        raise Failure("the job did not run on two nodes")

    datasets = ("/summary", "/histogram/counts", "/histogram/edges")
    a = h5_bits(args.h5dump, one, datasets, work)
    b = h5_bits(args.h5dump, four, datasets, work)
    for name in datasets:
        if not a[name] or a[name] != b[name]:
            raise Failure(f"{name}: 2 nodes x 2 ranks wrote other bits than 1 rank "
                          f"({b[name].hex()} vs {a[name].hex()})")
    log(f"2 nodes x 2 ranks on {nodes_line.group(1)}: /summary and /histogram bit for bit as "
        "1 rank")


def heat_run(env, command, timeout=150):
    return run(command, env, timeout=timeout, check=False)


def case_heat_restart(args, env, plain_env, work):
    heat = os.path.join(args.bin_dir, "strata_heat")
    shared = env["STRATA_CLUSTER_SHARED"]
    grid = ["--nx", "130", "--ny", "99", "--steps", "80", "--every-steps", "20", "--keep", "4",
            "--level", "1"]
    reference = run([args.mpiexec, "-np", "1", heat, "--ckpt-dir", os.path.join(work, "ref"),
                     "--nx", "130", "--ny", "99", "--steps", "80", "--every-steps", "0"],
                    plain_env, timeout=120)
    expected = re.search(r"^checksum (0x[0-9a-f]{16})$", reference.stdout, re.M).group(1)
    log(f"uninterrupted run on 1 rank: checksum {expected}")

    folder = os.path.join(shared, "ckpt")
    srun = ["srun", "--mpi=pmix", "--chdir", shared]
    stopped = heat_run(env, srun + ["-N", "2", "--ntasks-per-node=2", heat, "--ckpt-dir", folder,
                                    "--stop-at-step", "40"] + grid)
    if stopped.returncode != 75 or not re.search(r"^stopped at step 40 for requeue$",
                                                 stopped.stdout, re.M):
        raise Failure(f"2 nodes x 2 ranks did not stop at step 40 with exit 75 "
                      f"(exit {stopped.returncode}):\n{stopped.stdout}\n{stopped.stderr}")
    if not re.search(r"^checkpoint step 40$", stopped.stdout, re.M):
        raise Failure(f"the stop checkpoint was not reported committed:\n{stopped.stdout}")
    written = sum(len(files) for _, _, files in os.walk(folder))
    log(f"2 nodes x 2 ranks: stopped at step 40, {written} files in the shared folder {folder}")
    # The same checkpoint, once for each restart (a restart adds its own checkpoints).
    copy = folder + "-copy"
    shutil.copytree(folder, copy)

    for nodes, ranks, where in (("1", "3", folder), ("3", "3", copy)):
        # --overcommit: 3 ranks on a node of 2 CPUs.
        r = heat_run(env, srun + ["-N", nodes, "-n", ranks, "--overcommit", heat, "--ckpt-dir",
                                  where] + grid)
        shape = f"{nodes} node{'s' if nodes != '1' else ''} x {int(ranks) // int(nodes)} rank(s)"
        if r.returncode != 0 or not re.search(r"^restored step 40$", r.stdout, re.M):
            raise Failure(f"{shape} did not restore step 40 (exit {r.returncode}):\n"
                          f"{r.stdout}\n{r.stderr}")
        if not re.search(rf"^steps 80 ranks {ranks}$", r.stdout, re.M):
            raise Failure(f"{shape}: no 'steps 80 ranks {ranks}' line:\n{r.stdout}")
        got = re.search(r"^checksum (0x[0-9a-f]{16})$", r.stdout, re.M)
        if not got or got.group(1) != expected:
            raise Failure(f"{shape}: checksum {got and got.group(1)} differs from {expected}")
        log(f"{shape}: restored step 40, checksum {expected} as uninterrupted")


def lose_and_restart(env, heat, shared, expected, what, nodes, per_node, level_args, wiped,
                     restored):
    """strata_heat on `nodes` (per_node ranks each) with `level_args` stops at step 40; the
    local folder is wiped on the `wiped` nodes; the restart must restore step 40 printing every
    line of `restored` and end with the `expected` checksum."""
    grid = ["--nx", "130", "--ny", "99", "--steps", "80", "--every-steps", "20", "--level", "1"]
    local = level_args[level_args.index("--local-dir") + 1]
    srun = ["srun", "--mpi=pmix", "--chdir", shared, "-N", str(len(nodes)), "-w",
            ",".join(nodes), f"--ntasks-per-node={per_node}", heat] + level_args + grid
    stopped = heat_run(env, srun + ["--stop-at-step", "40"])
    if stopped.returncode != 75 or not re.search(r"^checkpoint step 40$", stopped.stdout, re.M):
        raise Failure(f"{what}: did not checkpoint step 40 and exit 75 "
                      f"(exit {stopped.returncode}):\n{stopped.stdout}\n{stopped.stderr}")
    run(["srun", "-N", str(len(wiped)), "-n", str(len(wiped)), "-w", ",".join(wiped), "rm",
         "-rf", local], env, timeout=60)
    log(f"{what}: stopped at step 40; the local folder of {', '.join(wiped)} wiped")
    r = heat_run(env, srun)
    missing = [line for line in ["restored step 40"] + restored
               if not re.search(rf"^{re.escape(line)}$", r.stdout, re.M)]
    if r.returncode != 0 or missing:
        raise Failure(f"{what}: the restart did not print {missing} (exit {r.returncode}):\n"
                      f"{r.stdout}\n{r.stderr}")
    got = re.search(r"^checksum (0x[0-9a-f]{16})$", r.stdout, re.M)
    if not got or got.group(1) != expected:
        raise Failure(f"{what}: checksum {got and got.group(1)} differs from {expected}")
    log(f"{what}: {'; '.join(restored)}; checksum {expected} as uninterrupted")


def case_levels(args, env, plain_env, work):
    heat = os.path.join(args.bin_dir, "strata_heat")
    shared = env["STRATA_CLUSTER_SHARED"]
    reference = run([args.mpiexec, "-np", "1", heat, "--ckpt-dir", os.path.join(work, "ref"),
                     "--nx", "130", "--ny", "99", "--steps", "80", "--every-steps", "0"],
                    plain_env, timeout=120)
    expected = re.search(r"^checksum (0x[0-9a-f]{16})$", reference.stdout, re.M).group(1)
    log(f"uninterrupted run on 1 rank: checksum {expected}")
    # /tmp is each node's own tmpfs: a truly node-local folder. The first two runs never drain
    # to the shared folder, so only the level named can restore their steps.
    lose_and_restart(env, heat, shared, expected, "partner", ["node1", "node2"], 2,
                     ["--ckpt-dir", os.path.join(shared, "partner-ckpt"), "--local-dir",
                      "/tmp/heat-partner", "--partner", "--drain-every", "0"],
                     ["node2"], ["restore level partner"])
    # 3 nodes as one XOR group: node2's folder holds rank 1's shard and node2's parity.
    lose_and_restart(env, heat, shared, expected, "xor", ["node1", "node2", "node3"], 1,
                     ["--ckpt-dir", os.path.join(shared, "xor-ckpt"), "--local-dir",
                      "/tmp/heat-xor", "--xor-group", "3", "--drain-every", "0"],
                     ["node2"], ["restore level xor", "restore rebuilt ranks 1"])
    # Every node's folder lost: the drain (on by default, hurried by the stop) put the steps in
    # the shared folder.
    lose_and_restart(env, heat, shared, expected, "drained", ["node1", "node2"], 2,
                     ["--ckpt-dir", os.path.join(shared, "drained-ckpt"), "--local-dir",
                      "/tmp/heat-drained", "--partner"],
                     ["node1", "node2"], ["restore level shared"])


def case_requeue(args, env, plain_env, work):
    shared = env["STRATA_CLUSTER_SHARED"]
    folder = os.path.join(shared, "requeue")
    os.makedirs(folder)
    job_log = st.test_simulation(args, env, folder,
                                 sbatch_options=("--nodes=2", "--ntasks-per-node=1"))
    placed = re.findall(r"SLURM_RESTART_COUNT=\d, 2 ranks on (\S+),", job_log)
    if len(placed) != 2 or not all(re.fullmatch(r"node\[\d[-,]\d\]", p) for p in placed):
        raise Failure(f"the two runs were not each on two nodes: {placed}")
    log(f"the two runs ran on {placed[0]} and {placed[1]}")


def case_pinning(args, env, plain_env, work):
    shared = env["STRATA_CLUSTER_SHARED"]
    dataset = os.path.join(shared, "data.strata")
    run([args.strata, "gen", "--size", "128M", "--seed", "7", "--overwrite", dataset], plain_env,
        timeout=120)  # --overwrite: cases share the folder and its data.strata
    srun_options = ["-N", "2", "--ntasks-per-node=2", "-c", "1", "--cpu-bind=cores"]
    info = run(["srun", "--mpi=pmix"] + srun_options + [args.strata, "info", "--json"], env,
               timeout=90, cwd=shared)
    ranks = json.loads(info.stdout)["ranks"]
    rank_cpus = {r["slurm"]["proc_id"]: st.parse_cpu_list(r["topology"]["allowed_cpus"])
                 for r in ranks}
    node_of = {r["slurm"]["proc_id"]: r["mpi"]["host"] for r in ranks}
    log(f"allowed CPUs per rank: { {k: (node_of[k], sorted(v)) for k, v in rank_cpus.items()} }")
    if sorted(rank_cpus) != [0, 1, 2, 3] or len(set(node_of.values())) != 2:
        raise Failure(f"expected ranks 0-3 on 2 nodes, got {node_of}")
    for a in rank_cpus:
        for b in rank_cpus:
            if a < b and node_of[a] == node_of[b] and rank_cpus[a] & rank_cpus[b]:
                raise Failure(f"ranks {a} and {b} on {node_of[a]} share CPUs")

    threads_per_rank = 3
    job_env = dict(env, STRATA_THREADS=str(threads_per_rank))
    out = os.path.join(shared, "pinning-%j.out")
    with st.ThreadSampler(os.path.join(args.bin_dir, "strata_analysis")) as sampler:
        submitted = run(["sbatch", "--parsable", "--wait", "--nodes=2", "--ntasks-per-node=2",
                         "--ntasks=4", f"--output={out}",
                         os.path.join(args.source_dir, "slurm", "analysis.sbatch"), dataset,
                         "--bins", "32"], job_env, timeout=150, check=False, cwd=shared)
    job = submitted.stdout.strip().split(";")[0]
    log(f"analysis job {job} exited {submitted.returncode}:\n{st.read(out.replace('%j', job))}")
    if submitted.returncode != 0:
        raise Failure(f"sbatch --wait analysis.sbatch exited {submitted.returncode}")
    st.check_pinning(sampler, rank_cpus, threads_per_rank)


def node_processes(node):
    """The PIDs of every process in the node's network namespace (slurmd, step daemons, ranks)."""
    out = subprocess.run(["ip", "netns", "pids", f"strata-{node}"], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def case_node_failure(args, env, plain_env, work):
    heat = os.path.join(args.bin_dir, "strata_heat")
    shared = env["STRATA_CLUSTER_SHARED"]
    folder = os.path.join(shared, "node-failure")
    ckpt = os.path.join(folder, "ckpt")
    os.makedirs(folder)
    grid = ["--nx", "256", "--ny", "256", "--steps", "60", "--alpha", "0.2", "--level", "1"]
    reference = run([args.mpiexec, "-np", "2", "--oversubscribe", heat, "--ckpt-dir",
                     os.path.join(work, "ckpt-reference"), "--every-steps", "0"] + grid,
                    plain_env, timeout=120)
    expected = re.search(r"^checksum (0x[0-9a-f]{16})$", reference.stdout, re.M).group(1)
    log(f"uninterrupted run: checksum {expected}")

    out = os.path.join(folder, "heat.out")
    job_env = dict(env, STRATA_CKPT_DIR=ckpt)
    job = run(["sbatch", "--parsable", f"--output={out}", "--nodes=2", "--ntasks-per-node=1",
               os.path.join(args.source_dir, "slurm", "simulation.sbatch"),
               "--every-steps", "10", "--keep", "2", "--step-delay-ms", "150"] + grid,
              job_env, cwd=folder).stdout.strip().split(";")[0]
    st.wait_for("the first checkpoint", lambda: re.search(r"^checkpoint step (\d+)$",
                                                           st.read(out), re.M), timeout=90)
    victim = st.job_field(job, "BatchHost", env)
    first_nodes = st.job_field(job, "NodeList", env)
    # Everything of the node at once, as when it loses power: its slurmd, the job's step daemons,
    # its rank and the batch shell.
    pids = node_processes(victim)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    before = [int(s) for s in re.findall(r"^checkpoint step (\d+)$", st.read(out), re.M)]
    log(f"job {job} on {first_nodes}: killed all {len(pids)} processes of {victim} (its batch "
        f"host) after checkpoints {before}")

    # The newest checkpoint is complete whatever the kill interrupted.
    verified = run([args.strata, "ckpt", "verify", ckpt], plain_env, timeout=60, check=False)
    if verified.returncode != 0:
        raise Failure(f"strata ckpt verify after the kill exited {verified.returncode}:\n"
                      f"{verified.stdout}{verified.stderr}")
    log(f"after the kill: strata ckpt verify passes ({verified.stdout.strip().splitlines()[-1]})")

    # slurmctld declares the node DOWN after SlurmdTimeout (30 s) and requeues the job
    # (--requeue) once its step on the other node has ended (up to KillWait, 30 s, after TERM).
    # A requeued job is held about 120 s (Reason=BeginTime); the test, as root, cuts that short.
    st.wait_for(f"job {job} to be requeued (PENDING, Restarts=1)",
                lambda: st.job_field(job, "Restarts", env) == "1"
                and st.job_field(job, "JobState", env) == "PENDING", timeout=150, interval=1)
    log(f"{victim} is {node_state(victim, env)}; job {job} requeued "
        f"(PENDING, Reason={st.job_field(job, 'Reason', env)}): releasing its begin time")
    # slurmd refuses a launch whose credential dates from the second of the job's last kill ("Job
    # credential revoked": Slurm compares whole seconds), which a job released at once can hit.
    time.sleep(2)
    run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env)
    st.wait_for("the requeued job to finish", lambda: st.job_field(job, "JobState", env) in
                ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"),
                timeout=120, interval=0.5)
    state, exit_code = st.job_field(job, "JobState", env), st.job_field(job, "ExitCode", env)
    job_log = st.read(out)
    log(f"job {job}: {state} ExitCode={exit_code}\n{job_log}")
    if state != "COMPLETED" or exit_code != "0:0":
        raise Failure(f"the requeued job ended {state} with ExitCode={exit_code}")
    second = job_log.split("SLURM_RESTART_COUNT=1,")
    if len(second) != 2:
        raise Failure("the log shows no second run with SLURM_RESTART_COUNT=1")
    placed = re.match(r" 2 ranks on (\S+),", second[1])
    if not placed or victim in hostnames(placed.group(1), env):
        raise Failure(f"the second run was not on the nodes left: {placed and placed.group(1)}")
    restored = re.search(r"^restored step (\d+)$", second[1], re.M)
    committed = [int(s) for s in re.findall(r"^checkpoint step (\d+)$", second[0], re.M)]
    if not restored or int(restored.group(1)) not in committed[-2:] \
            or int(restored.group(1)) < max(before):
        raise Failure(f"the second run restored {restored and restored.group(1)}, not the last "
                      f"committed checkpoint (the first run committed {committed})")
    if not re.search(rf"^checksum {expected}$", second[1], re.M):
        raise Failure(f"the second run did not end with the uninterrupted checksum {expected}")
    log(f"{victim} lost mid-job: requeued on {placed.group(1)}, restored step "
        f"{restored.group(1)} (first run committed {committed}), checksum {expected}")


# ---- node-shared segments ------------------------------------------------------------------

def shm_mappings(pid):
    """The node-shared segments process `pid` maps: {(device, inode): path} of its /dev/shm
    strata-* mappings (the name is unlinked once every rank of the node attached, so the path
    ends in " (deleted)")."""
    found = {}
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith("/dev/shm/strata-"):
                    found[(fields[3], int(fields[4]))] = fields[5].strip()
    except OSError:  # the process has ended
        pass
    return found


def device_of(path):
    """`path`'s device as /proc/PID/maps writes it (hex major:minor)."""
    dev = os.stat(path).st_dev
    return f"{os.major(dev):02x}:{os.minor(dev):02x}"


def shm_files(pid):
    """The strata-* names in /dev/shm as the process `pid` (in its node's mount namespace) sees it."""
    return sorted(n for n in os.listdir(f"/proc/{pid}/root/dev/shm") if n.startswith("strata-"))


def read_ranks(job, ranks, timeout):
    """Reads the job's stdout until each of `ranks` printed its 'rank R pid P host H segment S'
    line; returns {rank: (pid, host, segment path)}."""
    lines = queue.Queue()

    def forward():
        for line in job.stdout:
            lines.put(line)
        lines.put(None)  # the job closed its output: it ended
    threading.Thread(target=forward, daemon=True).start()
    seen, text = {}, []
    deadline = time.monotonic() + min(timeout, st.seconds_left())
    while len(seen) < ranks:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise Failure(f"the job printed {len(seen)} of {ranks} ranks' segments in time:\n"
                          + "".join(text))
        if line is None:
            raise Failure(f"the job ended (exit {job.wait()}) after {len(seen)} of {ranks} ranks' "
                          "segments:\n" + "".join(text))
        text.append(line)
        m = re.match(r"rank (\d+) pid (\d+) host (\S+) segment segment (/dev/shm/strata-\S+)", line)
        if m:
            seen[int(m.group(1))] = (int(m.group(2)), m.group(3), m.group(4))
    log("".join(text).strip())
    return seen


def check_segments_while_running(ranks):
    """Each node's ranks map one segment, the same inode, in that node's own /dev/shm, and its
    name is gone; the two nodes' segments are on different file systems. Returns the segments."""
    by_host = {}
    for rank, (pid, host, path) in sorted(ranks.items()):
        by_host.setdefault(host, []).append((rank, pid, path))
    if len(by_host) != 2 or any(len(r) != 2 for r in by_host.values()):
        raise Failure(f"expected 2 ranks on each of 2 nodes, got {by_host}")
    segments = set()
    for host, members in sorted(by_host.items()):
        node_dev = device_of(f"/proc/{members[0][1]}/root/dev/shm")
        mapped = {}
        for rank, pid, path in members:
            mine = shm_mappings(pid)
            if len(mine) != 1:
                raise Failure(f"rank {rank} on {host} maps {len(mine)} segments: {mine}")
            (key, mapped_path), = mine.items()
            if not mapped_path.startswith(path) or not mapped_path.endswith("(deleted)"):
                raise Failure(f"rank {rank} on {host} maps {mapped_path}, not its unlinked "
                              f"segment {path}")
            mapped[rank] = key
        # Every process of the node (slurmd, step daemons, ranks): one segment between them.
        on_node = {}
        for pid in node_processes(host):
            on_node.update(shm_mappings(pid))
        if len(set(mapped.values())) != 1 or len(on_node) != 1:
            raise Failure(f"{host}: the ranks map {mapped}, the node's processes {on_node}: not "
                          "one shared segment")
        key = next(iter(on_node))
        if key[0] != node_dev:
            raise Failure(f"{host}: the segment is on device {key[0]}, the node's /dev/shm is "
                          f"{node_dev}")
        left = shm_files(members[0][1])
        if left:
            raise Failure(f"{host}: /dev/shm still names {left} after every rank attached")
        segments.add(key)
        log(f"{host}: ranks {sorted(mapped)} map one segment, inode {key[1]} on its own "
            f"/dev/shm ({key[0]}), its name already unlinked")
    if len({dev for dev, _ in segments}) != 2:
        raise Failure(f"the two nodes' segments share a file system: {segments}")
    return segments


def check_segments_released(segments, ranks, env):
    """After the job: no rank left, no segment name in any node's /dev/shm, and no process of
    the machine maps any of `segments`."""
    st.wait_for("the job's ranks to end", lambda: not any(os.path.exists(f"/proc/{pid}")
                                                         for pid, _, _ in ranks.values()),
                timeout=30)
    for k in range(1, NODES + 1):
        host = f"node{k}"
        pids = node_processes(host)
        if not pids:
            raise Failure(f"no process left in {host} to look at its /dev/shm with")
        left = shm_files(pids[0])
        if left:
            raise Failure(f"{host}: /dev/shm still holds {left} after the job")
    holders = [pid for pid in filter(str.isdigit, os.listdir("/proc"))
               if set(shm_mappings(pid)) & segments]
    if holders:
        raise Failure(f"processes {holders} still map a segment of the ended job")


def case_node_shared(args, env, plain_env, work):
    shared = env["STRATA_CLUSTER_SHARED"]
    folder = os.path.join(shared, "node-shared")
    os.makedirs(folder)
    # -K: when one rank dies, srun ends the others (the killed job's ranks would hold otherwise).
    command = ["srun", "--mpi=pmix", "-N", "2", "-w", "node1,node2", "--ntasks-per-node=2", "-K",
               "--chdir", folder, os.path.realpath(args.node_shared_program), "hold", folder]
    release = os.path.join(folder, "release")
    for kill in (False, True):
        what = "with rank 3 killed" if kill else "ending normally"
        job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        try:
            ranks = read_ranks(job, 4, timeout=60)
            segments = check_segments_while_running(ranks)
            if kill:
                os.kill(ranks[3][0], signal.SIGKILL)
            else:
                open(release, "w").close()
            code = job.wait(timeout=max(1, min(60, st.seconds_left())))
        finally:
            if job.poll() is None:
                job.kill()
                job.wait()
        if (code != 0) != kill:
            raise Failure(f"the job {what} exited {code}")
        check_segments_released(segments, ranks, env)
        log(f"job {what} (exit {code}): no segment left in either node's /dev/shm, none mapped")
        if kill:
            break
        os.remove(release)


def hostnames(node_list, env):
    return run(["scontrol", "show", "hostnames", node_list], env).stdout.split()


def node_state(node, env):
    return run(["sinfo", "-h", "-n", node, "-o", "%T"], env, check=False).stdout.strip()


CASES = {"analysis": case_analysis, "heat_restart": case_heat_restart,
         "requeue": case_requeue, "pinning": case_pinning,
         "node_failure": case_node_failure, "levels": case_levels,
         "node_shared": case_node_shared}


# ---- the cluster ---------------------------------------------------------------------------

def leftovers(state):
    """What of the cluster in `state` still exists: namespaces, interfaces, processes."""
    left = []
    network = os.path.join(state, "run", "network")
    if os.path.exists(network):
        left.append(f"{network} (stop did not finish)")
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left += [f"namespace {n.split()[0]}" for n in names.splitlines() if n.startswith("strata-node")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    left += [f"interface {m}" for m in re.findall(r"^\d+: (strata-[\w-]+)", links, re.M)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if state in cmdline or f"SLURM_CONF={state}/".encode() in environ:
            left.append(f"process {pid} {cmdline.strip()}")
    return left


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    parser.add_argument("--h5dump", default="h5dump")
    parser.add_argument("--node-shared-program",
                        help="tests/mpi's strata_node_shared_kill (the node_shared case)")
    st.cluster_arguments(parser)
    args = parser.parse_args()
    work, state, start, stop = st.cluster_paths(args)

    plain_env = dict(os.environ)
    for variable in list(plain_env):  # never inherit an outer job's identity
        if variable.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "OMPI_MCA_")):
            del plain_env[variable]
    plain_env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                     OMPI_MCA_btl_vader_single_copy_mechanism="none", STRATA_THREADS="1",
                     STRATA_BIN_DIR=args.bin_dir, STRATA_SLURM_PORT=str(st.free_port_pair()))

    # A previous run of any case killed before it could stop its cluster (they share the bridge).
    for other in glob.glob(os.path.join(os.path.dirname(work), "*", "cluster")):
        subprocess.run([stop, other], env=plain_env, capture_output=True, timeout=60)

    def on_signal(number, _frame):
        raise Failure(f"interrupted by signal {number}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Ranks that crash leave a core in their folder (srun and sbatch pass this limit on), so that
    # a crash can be told apart from Open MPI's start-up race (open_mpi_init_race).
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    for attempt in (1, 2):
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        outcome = run_case(args, start, stop, state, work, plain_env)
        if outcome != "race":
            break
        if attempt == 1 and st.seconds_left() > 240:
            log("a rank died of Open MPI's start-up race (see open_mpi_init_race), not of strata: "
                "running the case once more on a new cluster")
            continue
        outcome = "failed"
    if outcome == "passed":
        log("PASSED")
    return {"passed": 0, "skipped": SKIP}.get(outcome, 1)


def open_mpi_init_race(folder):
    """A core under `folder` (the ranks' working folders) whose crash is Open MPI 4.1's start-up
    race rather than strata's: a rank still inside MPI_Init_thread is sent its first point-to-point
    message over TCP by a faster rank, before it registered the handler for it, and calls a null
    function pointer from mca_btl_tcp (seen on 2 nodes x 2 ranks, about 1 launch in 100)."""
    for core in glob.glob(os.path.join(folder, "**", "core*"), recursive=True):
        try:
            head = subprocess.run(["gdb", "-q", "-batch", "-c", core], capture_output=True,
                                  text=True, timeout=60).stdout
            m = re.search(r"Core was generated by `(\S+)", head)
            if not m:
                continue
            bt = subprocess.run(["gdb", "-q", "-batch", "-ex", "bt", m.group(1), core],
                                capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue  # no gdb: every crash counts as a failure
        if re.search(r"^#0\s+0x0+ in \?\?", bt, re.M) and "mca_btl_tcp.so" in bt \
                and "PMPI_Init_thread" in bt:
            log(f"{core}: a null call from mca_btl_tcp inside MPI_Init_thread:\n{bt.strip()}")
            return True
    return False


def run_case(args, start, stop, state, work, plain_env):
    """Starts the cluster, runs the case, stops the cluster and checks it is gone. Returns
    "passed", "skipped", "failed", or "race" (failed only by open_mpi_init_race)."""
    outcome = "passed"
    try:
        started = subprocess.run([start, "--nodes", str(NODES), state], env=plain_env,
                                 capture_output=True, text=True, timeout=90)
        if started.returncode == SKIP:
            print(f"SKIPPED: {started.stderr.strip()}", flush=True)
            return "skipped"
        if started.returncode != 0:
            raise Failure(f"local-cluster/start exited {started.returncode}:\n{started.stderr}")
        log(started.stderr.strip())
        env = cluster_env(state, plain_env)
        CASES[args.case](args, env, plain_env, work)
    except (Failure, subprocess.TimeoutExpired, OSError) as e:
        outcome = "failed"
        print(f"FAILED: {e}", flush=True)
        for name in ["slurmctld.log"] + [f"slurmd-node{k}.log" for k in range(1, NODES + 1)]:
            text = st.read(os.path.join(state, "log", name)).splitlines()
            print(f"---- last lines of {name}\n" + "\n".join(text[-15:]), flush=True)
        if open_mpi_init_race(work):
            outcome = "race"
    finally:
        stopped = subprocess.run([stop, state], env=plain_env, capture_output=True, text=True,
                                 timeout=90)
        log(stopped.stderr.strip())
        if stopped.returncode != 0:
            print(f"FAILED: local-cluster/stop exited {stopped.returncode}", flush=True)
            outcome = "failed"
        left = leftovers(state)
        if left:
            print("FAILED: the cluster left " + "; ".join(left), flush=True)
            outcome = "failed"
    return outcome


if __name__ == "__main__":
    sys.exit(main())
