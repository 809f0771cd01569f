# SPDX-License-Identifier: Apache-2.0
# Proves multi-level checkpoints restart from the right level: 2-rank strata_heat runs on two
# simulated nodes (STRATA_NODE_NAME a and b, one rank each) with a node-local folder per node, a
# partner copy on the other node and a shared folder. Killed with node b's local folder wiped, the
# restart rebuilds b's shards from the partner copies ("restore level partner"); with every local
# folder wiped it restarts from the shared folder; SIGKILLed while a drain writes the shared
# folder, the shared folder holds only steps that verify, `strata ckpt drain` finishes the drain
# and a restart comes from the local level; one node with --partner is refused. Every restart ends
# with the uninterrupted run's checksum.
import glob
import os
import shutil
import subprocess
import time

import heat_driver as hd


def extra(p):
    p.add_argument("--strata", required=True, help="the strata CLI binary")


args = hd.parse_args(extra)
hd.fresh_dir(args.work)
timer = hd.Timer()
# One rank per node keeps every run to 2 processes on a 2-core machine; the partner of node a's
# rank is node b's, as with more ranks per node. 40 steps give 4 checkpoints a run.
two_nodes = [("a", 1), ("b", 1)]
ranks = 2
grid = ["--nx", 512, "--ny", 512, "--steps", 40, "--every-steps", 10, "--step-delay-ms", 10]
expected = hd.reference(args, ranks, grid)
print(f"uninterrupted checksum {expected}")


def temp_steps(folder):
    return glob.glob(os.path.join(folder, "step-*.tmp"))


def strata(*cli_args):
    return subprocess.run([args.strata] + [str(a) for a in cli_args], capture_output=True,
                          text=True, timeout=60)


def finish_run(title, heat_args, restored_step, level):
    return hd.finish_restart(args, ranks, heat_args, two_nodes, expected, restored_step, level,
                             title)


# 1. Node b's local folder gone and its ranks killed: b's shards come back from partner copies.
work = hd.fresh_dir(os.path.join(args.work, "partner"))
local, shared = os.path.join(work, "local"), os.path.join(work, "shared")
heat_args = grid + ["--ckpt-dir", shared, "--local-dir", local, "--partner", "--drain-every", 0]
node_a, node_b = os.path.join(local, "node-a"), os.path.join(local, "node-b")
r, killed = hd.run_and_kill(args, ranks, heat_args, 0.2, nodes=two_nodes,
                            when=lambda: hd.committed_steps(node_a) and hd.committed_steps(node_b))
hd.check(killed, "partner: the run ended before its first local checkpoint could be killed", r)
newest = max(hd.committed_steps(node_a))
hd.check(hd.committed_steps(node_b) and max(hd.committed_steps(node_b)) == newest,
         "partner: the two node folders disagree on the newest step")
hd.check(not hd.committed_steps(shared), "partner: --drain-every 0 drained a step before the stop")
shutil.rmtree(node_b)
finish_run("partner", heat_args, newest, "partner")
print(f"partner: node b wiped after step {newest}, rebuilt from partner copies")

# 2. Every local folder gone: the newest step drained to the shared folder.
work = hd.fresh_dir(os.path.join(args.work, "shared"))
local, shared = os.path.join(work, "local"), os.path.join(work, "shared")
# --drain-every 0: only the stop drains, so step 20 in the shared folder is the stop's doing.
heat_args = grid + ["--ckpt-dir", shared, "--local-dir", local, "--partner", "--drain-every", 0]
r = hd.run(args, ranks, heat_args + ["--stop-at-step", 20], nodes=two_nodes)
hd.check(r.code == 75, "shared: the stopped run did not exit 75 for requeue", r)
hd.check(r.fact(r"drained step 20 .*") is not None,
         "shared: the stop did not drain step 20 to the shared folder", r)
hd.check(20 in hd.committed_steps(shared), "shared: step 20 is not in the shared folder")
shutil.rmtree(local)
finish_run("shared", heat_args, 20, "shared")
print("shared: every local folder wiped, restarted from the shared folder")

# 3. kill -9 while a drain writes the shared folder: no torn step there, ever.
work = hd.fresh_dir(os.path.join(args.work, "drain"))
local, shared = os.path.join(work, "local"), os.path.join(work, "shared")
heat_args = grid + ["--ckpt-dir", shared, "--local-dir", local, "--level", 0]
# The kill lands a few milliseconds after a drain's step-N.tmp is seen; should the drain commit
# in between, the job is restarted (from its local level) and killed at its next drain.
for attempt in range(3):
    p = hd.start(args, ranks, heat_args, nodes=two_nodes)
    give_up = time.monotonic() + 60  # a loaded machine may take long to start the ranks
    while p.poll() is None and not temp_steps(shared) and time.monotonic() < give_up:
        time.sleep(0.001)
    killed = hd.kill_tree(p)
    r = hd.finish(p, 60)
    hd.kill_orphans()
    hd.check(killed, "drain: the run ended before it could be killed", r)
    if temp_steps(shared):
        break
hd.check(temp_steps(shared), "drain: no kill came while a drain wrote the shared folder")
torn = [os.path.basename(t) for t in temp_steps(shared)]
drained_before = hd.committed_steps(shared)
for step in drained_before:
    v = strata("ckpt", "verify", shared, "--step", step)
    hd.check(v.returncode == 0, f"drain: step {step} in the shared folder is torn: {v.stderr}")
listing = strata("ckpt", "list", shared, "--local", local)
hd.check(listing.returncode == 0, f"drain: ckpt list --local failed: {listing.stderr}")
print(listing.stdout.rstrip())
newest_local = max(hd.committed_steps(os.path.join(local, "node-a")))
hd.check(f"restart would use step {newest_local} from local" in listing.stdout,
         f"drain: ckpt list does not say the restart uses local step {newest_local}")
d = strata("ckpt", "drain", shared, "--local", local)
hd.check(d.returncode == 0, f"drain: strata ckpt drain failed: {d.stderr}")
hd.check(newest_local in hd.committed_steps(shared) and not temp_steps(shared),
         f"drain: ckpt drain did not commit step {newest_local}: {d.stdout} {d.stderr}")
v = strata("ckpt", "verify", shared, "--step", newest_local)
hd.check(v.returncode == 0, f"drain: the hand-drained step does not verify: {v.stderr}")
finish_run("drain", heat_args, newest_local, "local")
print(f"drain: killed while {torn} was being drained; shared steps {drained_before} verified; "
      f"ckpt drain committed step {newest_local}")

# 4. One node with partner copies: refused with a clear error.
r = hd.run(args, 2, grid + ["--ckpt-dir", os.path.join(args.work, "one"), "--local-dir",
                            os.path.join(args.work, "one-local"), "--partner"])
hd.check(r.code != 0 and "at least two nodes" in r.err,
         "one node: --partner on one node was not refused with a clear error", r)

print(f"{timer.seconds():.1f} s")
print("PASS")
