# SPDX-License-Identifier: Apache-2.0
# Proves the XOR group level restarts from the right level: 3-rank strata_heat runs on three
# simulated nodes (STRATA_NODE_NAME a, b, c, one rank each) with --xor-group 3, a node-local folder
# per node and a shared folder, and is SIGKILLed. Restarted from copies of what it left: with node
# c's folder wiped, c's shard is rebuilt from a's and b's shards and parity ("restore level xor",
# rank 2 rebuilt, and `strata ckpt list` says so first); with b and c wiped, the restart comes from
# the shared folder; with c wiped and b's parity damaged, the damage is reported and the restart
# comes from the shared folder, never from a wrong rebuild; with c wiped and a's shard damaged,
# the rebuilt shard fails the manifest's SHA-256 and is not used. Every restart ends with the
# uninterrupted run's checksum. (A one-node job with xor_group is refused: tests/io/
# xor_parity_test.cpp, CheckpointXorOptionsTest.)
import glob
import os
import shutil
import subprocess

import heat_driver as hd


def extra(p):
    p.add_argument("--strata", required=True, help="the strata CLI binary")


args = hd.parse_args(extra)
hd.fresh_dir(args.work)
timer = hd.Timer()
# One rank per node keeps every run to 3 processes on a 2-core machine; 512 rows over 3 ranks give
# shards of unequal sizes, so the parity pads. 40 steps give 4 checkpoints a run.
three_nodes = [("a", 1), ("b", 1), ("c", 1)]
ranks = 3
grid = ["--nx", 512, "--ny", 512, "--steps", 40, "--every-steps", 10, "--step-delay-ms", 10]
expected = hd.reference(args, ranks, grid)
print(f"uninterrupted checksum {expected}")


def layout(work):
    local, shared = os.path.join(work, "local"), os.path.join(work, "shared")
    return local, shared, grid + ["--ckpt-dir", shared, "--local-dir", local, "--xor-group", 3]


def finish_run(title, heat_args, restored_step, level):
    # Restarts need no delay: nothing watches them.
    return hd.finish_restart(args, ranks, heat_args + ["--step-delay-ms", 0], three_nodes,
                             expected, restored_step, level, title)


# One run, killed once every node folder and the shared folder hold a committed step.
work = os.path.join(args.work, "run")
local, shared, heat_args = layout(work)
nodes = {n: os.path.join(local, "node-" + n) for n in "abc"}


def everywhere():
    newest = [hd.committed_steps(f) for f in nodes.values()]
    return all(newest) and len({s[-1] for s in newest}) == 1 and hd.committed_steps(shared)


r, killed = hd.run_and_kill(args, ranks, heat_args, 0.2, nodes=three_nodes, when=everywhere)
hd.check(killed, "the run ended before its checkpoints could be killed", r)
parity = glob.glob(os.path.join(nodes["a"], "step-*", "parity.xor"))
hd.check(parity, "no parity.xor in node a's committed steps")
hd.check(not glob.glob(os.path.join(shared, "step-*", "parity.xor")),
         "the drain copied parity to the shared folder")
# The newest step the surviving nodes a and b both hold: the restart rebuilds c's shard of it.
newest = max(set(hd.committed_steps(nodes["a"])) & set(hd.committed_steps(nodes["b"])))
newest_shared = max(hd.committed_steps(shared))
print(f"killed: node folders at step {newest}, shared at step {newest_shared}")


def copy_of(name):
    """A copy of what the killed run left, and the heat arguments that use it."""
    target = os.path.join(args.work, name)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work, target, symlinks=True)
    return layout(target)


# 1. Node c's local folder gone: c's shard rebuilt from a's and b's shards and parity.
c_local, c_shared, c_args = copy_of("one")
shutil.rmtree(os.path.join(c_local, "node-c"))
listing = subprocess.run([args.strata, "ckpt", "list", c_shared, "--local", c_local],
                         capture_output=True, text=True, timeout=60)
hd.check(listing.returncode == 0, f"one: ckpt list --local failed: {listing.stderr}")
hd.check(f"restart would use step {newest} from xor" in listing.stdout,
         f"one: ckpt list does not say the restart rebuilds step {newest} by xor:\n"
         f"{listing.stdout}")
r = finish_run("one", c_args, newest, "xor")
rebuilt = r.fact(r"restore rebuilt ranks (.*)")
hd.check(rebuilt is not None and rebuilt.group(1).split() == ["2"],
         f"one: rebuilt ranks {rebuilt.group(1) if rebuilt else None}, expected 2", r)
print(f"one: node c wiped after step {newest}, rank 2 rebuilt from XOR parity")

# 2. Nodes b and c gone: one group cannot lose two nodes, so the shared folder is used.
c_local, c_shared, c_args = copy_of("two")
shutil.rmtree(os.path.join(c_local, "node-b"))
shutil.rmtree(os.path.join(c_local, "node-c"))
finish_run("two", c_args, newest_shared, "shared")
print(f"two: nodes b and c wiped, restarted from shared step {newest_shared}")

# 3. Node c gone and node b's parity of the newest step damaged: reported, never used.
c_local, c_shared, c_args = copy_of("damaged")
shutil.rmtree(os.path.join(c_local, "node-c"))
damaged = os.path.join(c_local, "node-b", f"step-{newest:08d}", "parity.xor")
with open(damaged, "r+b") as f:
    f.seek(-1, os.SEEK_END)
    last = f.read(1)
    f.seek(-1, os.SEEK_END)
    f.write(bytes([last[0] ^ 0x40]))
# The restore falls back to the newest step it can rebuild whole: an older local step when one
# is left in every node folder, else the shared folder's.
older = [s for s in set(hd.committed_steps(os.path.join(c_local, "node-a"))) &
         set(hd.committed_steps(os.path.join(c_local, "node-b"))) if s < newest]
r = hd.run(args, ranks, c_args + ["--step-delay-ms", 0], nodes=three_nodes)
hd.check(r.code == 0, "damaged: the restart failed", r)
hd.check("parity" in r.err and "damaged" in r.err,
         "damaged: the damaged parity was not reported", r)
got = r.fact(r"restore level (\w+)")
hd.check(got is not None and (r.restored(), got.group(1)) in
         [(newest_shared, "shared")] + [(s, "xor") for s in older if s > newest_shared],
         f"damaged: restored {r.restored()} from {got.group(1) if got else None}", r)
hd.check(r.checksum() == expected,
         f"damaged: checksum {r.checksum()} differs from the uninterrupted {expected}", r)
print(f"damaged: parity damage reported, restored step {r.restored()} from {got.group(1)}")

# 4. Node c gone and node a's shard damaged (its parity intact): the shard rebuilt from it fails
# the manifest's SHA-256, so the rebuild is refused and the restart comes from the shared folder.
c_local, c_shared, c_args = copy_of("bad-shard")
shutil.rmtree(os.path.join(c_local, "node-c"))
shard = os.path.join(c_local, "node-a", f"step-{newest:08d}", "shard-00000.sck")
# a's first segment (its bytes [0, S)) goes into b's parity piece, which rebuilds c's bytes
# [S, 2S): flip a byte x past a's 64-byte header with S + x inside c's shard, so the flip reaches a
# real byte of c (one that met c's zero padding would rebuild c correctly).
with open(os.path.join(nodes["b"], f"step-{newest:08d}", "parity.xor"), "rb") as f:
    segment = int.from_bytes(f.read(48)[40:48], "little")
size_a = os.path.getsize(shard)
size_c = os.path.getsize(os.path.join(nodes["c"], f"step-{newest:08d}", "shard-00002.sck"))
x = 64 + (min(size_a, segment, size_c - segment) - 64) // 2
hd.check(64 <= x < min(size_a, segment) and segment + x < size_c,
         f"bad shard: no byte of a maps onto c's data (S {segment}, a {size_a}, c {size_c})")
with open(shard, "r+b") as f:
    f.seek(x)
    byte = f.read(1)
    f.seek(x)
    f.write(bytes([byte[0] ^ 0x01]))
r = hd.run(args, ranks, c_args + ["--step-delay-ms", 0], nodes=three_nodes)
hd.check(r.code == 0, "bad shard: the restart failed", r)
hd.check("rebuilt from XOR parity is wrong" in r.err,
         "bad shard: the wrong rebuild was not reported", r)
got = r.fact(r"restore level (\w+)")
hd.check(got is not None and got.group(1) == "shared" and r.restored() == newest_shared,
         f"bad shard: restored {r.restored()} from {got.group(1) if got else None}", r)
hd.check(r.checksum() == expected,
         f"bad shard: checksum {r.checksum()} differs from the uninterrupted {expected}", r)
print(f"bad shard: the rebuild from a damaged shard was refused, restored step {r.restored()}")

print(f"{timer.seconds():.1f} s")
print("PASS")
