# SPDX-License-Identifier: Apache-2.0
# Proves a full disk costs no committed data: the checkpoint folder is a small tmpfs (needs root;
# the test is skipped, exit 77, only when mount is refused) that holds the first uncompressed
# checkpoint but not a second. Later saves must fail with 'checkpoint failed: ...' while the run
# goes on to the uninterrupted checksum; a restart then restores the first checkpoint and ends
# with the same checksum. The tmpfs is unmounted in every case.
import os
import subprocess
import sys

import heat_driver as hd

kSkip = 77

args = hd.parse_args()
mount_point = os.path.join(args.work, "small-disk")
if os.path.ismount(mount_point):  # left by a run killed by the CTest timeout
    subprocess.run(["umount", mount_point], check=False)
hd.fresh_dir(args.work)
timer = hd.Timer()
# 256 x 256 doubles: 512 KiB of state, two shards of 256 KiB each at --level 0.
grid = ["--nx", 256, "--ny", 256, "--steps", 40, "--every-steps", 10, "--level", 0, "--keep", 2]
expected = hd.reference(args, 2, grid)
os.makedirs(mount_point, exist_ok=True)
m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=800k,mode=0755", "tmpfs", mount_point],
                   capture_output=True, text=True)
if m.returncode != 0:
    print(f"SKIP: cannot mount a tmpfs (root needed): {m.stderr.strip()}")
    sys.exit(kSkip)
try:
    folder = os.path.join(mount_point, "ckpt")
    heat_args = grid + ["--ckpt-dir", folder]
    r = hd.run(args, 2, heat_args)
    r.show("run on a small disk")
    hd.check(r.code == 0, "the run did not go on after a failed checkpoint", r)
    hd.check(r.committed() == [10], f"expected only checkpoint 10 to commit, got {r.committed()}",
             r)
    failures = [l for l in r.err.splitlines() if l.startswith("checkpoint failed: ")]
    hd.check(len(failures) == 3, "expected 'checkpoint failed: ...' for steps 20, 30 and 40", r)
    hd.check(all("space" in l or "full" in l for l in failures),
             "a failure does not say the disk is full", r)
    hd.check(r.checksum() == expected,
             f"checksum {r.checksum()} differs from the uninterrupted {expected}", r)

    r = hd.run(args, 2, heat_args)
    r.show("restart from the small disk")
    hd.check(r.restored() == 10, f"restored {r.restored()}, expected step 10", r)
    hd.check(r.code == 0 and r.checksum() == expected,
             f"checksum {r.checksum()} after the restart differs from {expected}", r)
finally:
    subprocess.run(["umount", mount_point], check=False)
print(f"full disk: failed saves reported, step 10 restored, checksum {expected}, "
      f"{timer.seconds():.1f} s")
print("PASS")
