# SPDX-License-Identifier: Apache-2.0
# Proves a damaged newest checkpoint is detected and passed over: with checkpoints of steps 20 and
# 40 committed, step 40 gets a flipped byte in a shard, a deleted shard or a truncated manifest;
# the restart must warn naming step 40 and the shard or manifest, restore step 20, and still end
# with the uninterrupted run's checksum.
import os

import heat_driver as hd


def extra(p):
    p.add_argument("--case", required=True, choices=["flipped-byte", "deleted-shard",
                                                     "truncated-manifest"])


args = hd.parse_args(extra)
hd.fresh_dir(args.work)
timer = hd.Timer()
grid = ["--nx", 192, "--ny", 160, "--steps", 60, "--every-steps", 20]
expected = hd.reference(args, 2, grid)
folder = os.path.join(args.work, "ckpt")
heat_args = grid + ["--ckpt-dir", folder]

r = hd.run(args, 2, heat_args + ["--stop-at-step", 40])
hd.check(r.code == 75, "the stopped run did not exit 75", r)
hd.check(r.committed() == [20, 40], f"expected checkpoints 20 and 40, got {r.committed()}", r)
newest = os.path.join(folder, "step-00000040")
shard = os.path.join(newest, "shard-00001.sck")
manifest = os.path.join(newest, "manifest.json")
hd.check(os.path.exists(shard) and os.path.exists(manifest),
         f"expected {shard} and {manifest} (docs/formats.md, Checkpoints)")

if args.case == "flipped-byte":
    size = os.path.getsize(shard)
    offset = size // 2
    with open(shard, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ 0x5A]))
    print(f"flipped the byte at {offset} of {size} in {shard}")
    names = ["shard"]
elif args.case == "deleted-shard":
    os.remove(shard)
    print(f"deleted {shard}")
    names = ["shard"]
else:
    size = os.path.getsize(manifest)
    os.truncate(manifest, size // 2)
    print(f"truncated {manifest} from {size} to {size // 2} bytes")
    names = ["manifest"]

r = hd.run(args, 2, heat_args)
r.show("restart")
hd.check(r.code == 0, "the restart failed", r)
hd.check(r.restored() == 20, f"restored {r.restored()}, expected the fallback to step 20", r)
# The Checkpointer's own warning (strata::log), not only the example's echo of last_restore().
warnings = [line for line in r.err.splitlines() if "warn" in line and "step 40" in line]
hd.check(any(any(n in line for n in names) for line in warnings),
         f"no warning names step 40 and the {' or '.join(names)}", r)
hd.check(r.checksum() == expected,
         f"checksum {r.checksum()} differs from the uninterrupted {expected}", r)
print(f"{args.case}: fell back to step 20, checksum {expected}, {timer.seconds():.1f} s")
print("PASS")
