# SPDX-License-Identifier: Apache-2.0
# Proves the stop-signal path Slurm uses: SIGUSR1 to mpiexec (which forwards it to the ranks)
# mid-run makes strata_heat checkpoint at its next step, say 'stopped at step N for requeue' and
# exit 75; the restart restores step N and ends with the uninterrupted run's checksum.
import os
import signal

import heat_driver as hd

args = hd.parse_args()
hd.fresh_dir(args.work)
timer = hd.Timer()
grid = ["--nx", 128, "--ny", 128, "--steps", 400, "--every-steps", 0, "--step-delay-ms", 5]
expected = hd.reference(args, 2, grid)
heat_args = grid + ["--ckpt-dir", os.path.join(args.work, "ckpt")]
p = hd.start(args, 2, heat_args)
# Wait for the simulation to start stepping, then ask it to stop as Slurm would.
first = hd.read_line(p, 60)
hd.check(first.strip() == "fresh start", f"unexpected first line {first!r}")
p.send_signal(signal.SIGUSR1)
r = hd.finish(p, 120, first)
stopped = r.fact(r"stopped at step (\d+) for requeue")
hd.check(r.code == 75 and stopped is not None, "SIGUSR1 did not stop the run with exit 75", r)
step = int(stopped.group(1))
hd.check(0 < step < 400 and step in r.committed(), "the stop checkpoint was not committed", r)
r = hd.run(args, 2, heat_args)
hd.check(r.code == 0 and r.restored() == step, f"the restart did not restore step {step}", r)
hd.check(r.checksum() == expected, f"checksum {r.checksum()} differs from {expected}", r)
print(f"stopped by SIGUSR1 at step {step}, restored, checksum {expected}, {timer.seconds():.1f} s")
print("PASS")
