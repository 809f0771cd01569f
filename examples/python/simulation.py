#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A checkpointed simulation in Python: 1-D heat diffusion in a NumPy array, checkpointed every
--every steps with strata.Checkpointer, restarting from the newest good checkpoint, and stopping
cleanly on Slurm's warning signal (SIGUSR1/SIGTERM): it checkpoints the step it reached and exits
75, which slurm/simulation.sbatch requeues. Prints the final state's sum and checksum line.

    python3 simulation.py --dir ckpt --steps 200 --every 20
    mpirun -np 2 python3 simulation.py --dir ckpt      # rows stacked by rank
"""

import argparse
import sys
import time

import numpy as np

import strata


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="ckpt")
    parser.add_argument("--cells", type=int, default=100_000, help="cells per rank")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=20, help="checkpoint every N steps")
    parser.add_argument("--step-seconds", type=float, default=0.0,
                        help="sleep per step (tests: time to deliver a signal)")
    args = parser.parse_args()

    rt = strata.Runtime(stop_signals=True)  # SIGUSR1/SIGTERM set stop_requested()
    u = np.zeros(args.cells)
    u[: args.cells // 10] = 100.0 * (rt.rank + 1)  # hot rows at the start of each rank's block
    with strata.Checkpointer(args.dir, every_steps=args.every, keep=2, run_id="heat1d") as ck:
        ck.protect("u", u)
        step = ck.restore_latest() or 0
        print(f"rank {rt.rank}: starting at step {step}", flush=True)
        while step < args.steps:
            # In place: the protected array's memory is what the checkpointer reads and restores.
            u[1:-1] += 0.25 * (u[:-2] - 2 * u[1:-1] + u[2:])
            step += 1
            if args.step_seconds:
                time.sleep(args.step_seconds)
            stop = rt.stop_requested_anywhere()
            if ck.due(step) or stop:
                ck.save(step)
                print(f"rank {rt.rank}: saved step {step}", flush=True)
            if stop:
                ck.wait()  # committed before the job ends
                return rt.exit_for_requeue()
        ck.wait()
    print(f"rank {rt.rank}: done at step {step}: sum {u.sum()!r} max {u.max()!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
