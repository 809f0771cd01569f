# SPDX-License-Identifier: Apache-2.0
# Proves a checkpoint restarts on another rank count: strata_heat stopped (--stop-at-step) on 4
# ranks and restarted on 2, and stopped on 2 and restarted on 4, each ends with the checksum of
# the uninterrupted run (the grid's odd row count gives the ranks unequal blocks). Then bad
# restarts from that folder — --steps before its newest checkpoint, another grid size — must fail
# with a clear error and leave the checkpoints restorable.
import os

import heat_driver as hd

args = hd.parse_args()
hd.fresh_dir(args.work)
timer = hd.Timer()
grid = ["--nx", 130, "--ny", 99, "--steps", 80, "--every-steps", 25]
expected = hd.reference(args, 1, grid)
print(f"uninterrupted checksum {expected}")
for before, after in ((4, 2), (2, 4)):
    folder = os.path.join(args.work, f"ckpt-{before}-to-{after}")
    heat_args = grid + ["--ckpt-dir", folder]
    r = hd.run(args, before, heat_args + ["--stop-at-step", 40])
    hd.check(r.code == 75 and r.fact(r"stopped at step 40 for requeue") is not None,
             f"the run on {before} ranks did not stop at step 40 with exit 75", r)
    hd.check(40 in r.committed(), "the stop checkpoint was not reported committed", r)
    r = hd.run(args, after, heat_args)
    hd.check(r.code == 0 and r.restored() == 40,
             f"the restart on {after} ranks did not restore step 40", r)
    hd.check(r.fact(rf"steps 80 ranks {after}") is not None, "no 'steps N ranks R' line", r)
    hd.check(r.checksum() == expected,
             f"{before} -> {after} ranks: checksum {r.checksum()} differs from {expected}", r)
    print(f"{before} -> {after} ranks: restored step 40, checksum {r.checksum()}")
# The last folder holds steps 50 and 75 (every 25, keep 2) and the stop checkpoint at 40 is gone.
r = hd.run(args, 2, heat_args + ["--steps", 60])
hd.check(r.code != 0 and "past --steps" in r.err and r.checksum() is None,
         "--steps 60 after a checkpoint of step 75 did not fail with 'past --steps'", r)
r = hd.run(args, 2, heat_args + ["--nx", 131])
hd.check(r.code != 0 and "global shape" in r.err and r.checksum() is None,
         "a checkpoint of another grid size was not refused naming the global shape", r)
r = hd.run(args, 2, heat_args)
hd.check(r.code == 0 and r.restored() == 75 and r.checksum() == expected,
         "the bad restarts cost the checkpoint of step 75 or the checksum", r)
print("bad restarts refused; step 75 restored after them")
print(f"{timer.seconds():.1f} s")
print("PASS")
