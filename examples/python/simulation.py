#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A checkpointed simulation in Python: 2-D heat diffusion on a global --ny x --nx grid whose rows
are split among the MPI ranks (strata.partition_rows), halos exchanged with mpi4py, checkpointed
every --every steps with strata.Checkpointer as rows of the global array, and restarting from the
newest good checkpoint, also on another rank count. On Slurm's warning signal (SIGUSR1/SIGTERM)
it checkpoints the step it reached and exits 75, which slurm/simulation.sbatch requeues. Rank 0
prints the final field's sum and maximum, the same bits for every rank count.

    python3 simulation.py --dir ckpt --steps 200 --every 20
    mpirun -np 2 python3 simulation.py --dir ckpt --stop-at-step 100   # exits 75 at step 100
    mpirun -np 4 python3 simulation.py --dir ckpt                      # continues from step 100
"""

import argparse
import sys
import time

import numpy as np

import strata


def initial_rows(first, rows, ny, nx):
    """Rows [first, first + rows) of the grid at step 0: a hot block, the edges at 0."""
    row = np.arange(first, first + rows)[:, None]
    col = np.arange(nx)
    hot = (ny // 4 <= row) & (row < ny // 2) & (nx // 3 <= col) & (col < 2 * nx // 3)
    return np.where(hot, 100.0, 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="ckpt")
    parser.add_argument("--ny", type=int, default=512, help="global rows (split among ranks)")
    parser.add_argument("--nx", type=int, default=512, help="columns")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=20, help="checkpoint every N steps")
    parser.add_argument("--stop-at-step", type=int, default=0,
                        help="act as if Slurm's warning arrived at this step (tests, demos)")
    parser.add_argument("--out", help="rank 0 writes the final global field here (.npy)")
    parser.add_argument("--step-seconds", type=float, default=0.0,
                        help="sleep per step (tests: time to deliver a signal)")
    args = parser.parse_args()

    rt = strata.Runtime(stop_signals=True)  # SIGUSR1/SIGTERM set stop_requested()
    comm = None
    if rt.size > 1:
        from mpi4py import MPI  # the MPI strata joined: halos go through mpi4py

        comm = MPI.COMM_WORLD
    if args.ny < max(3, rt.size) or args.nx < 3:
        sys.exit("simulation: the grid needs at least 3 x 3 cells and a row per rank")

    # This rank's rows of the global grid, with a halo row above and below.
    first, rows = strata.partition_rows(args.ny, rt.rank, rt.size)
    w = np.zeros((rows + 2, args.nx))
    u = w[1:-1]  # this rank's rows: a C-contiguous view into w, the memory the checkpoint holds
    u[...] = initial_rows(first, rows, args.ny, args.nx)
    # Local rows that change: global rows 1 .. ny-2 (the first and last row are held at 0).
    lo = 2 if first == 0 else 1
    hi = rows if first + rows == args.ny else rows + 1
    up = rt.rank - 1 if rt.rank > 0 else None
    down = rt.rank + 1 if rt.rank < rt.size - 1 else None

    with strata.Checkpointer(args.dir, every_steps=args.every, keep=2, run_id="heat2d") as ck:
        # Rows [first, first + rows) of the global array: a restart on another rank count
        # restores each rank's rows of the global field, wherever they now start.
        ck.protect("u", u, global_shape=(args.ny, args.nx), first_row=first)
        step = ck.restore_latest() or 0
        print(f"rank {rt.rank}: rows {first}..{first + rows - 1}, starting at step {step}",
              flush=True)
        while step < args.steps:
            if comm is not None:  # halos: my first row up, my last row down, and back
                if up is not None:
                    comm.Sendrecv(w[1], dest=up, recvbuf=w[0], source=up)
                if down is not None:
                    comm.Sendrecv(w[rows], dest=down, recvbuf=w[rows + 1], source=down)
            # In place (the right side is evaluated first): the protected memory is updated.
            w[lo:hi, 1:-1] += 0.2 * (w[lo - 1 : hi - 1, 1:-1] + w[lo + 1 : hi + 1, 1:-1]
                                     + w[lo:hi, :-2] + w[lo:hi, 2:] - 4.0 * w[lo:hi, 1:-1])
            step += 1
            if args.step_seconds:
                time.sleep(args.step_seconds)
            stop = rt.stop_requested_anywhere() or step == args.stop_at_step
            if ck.due(step) or stop:
                ck.save(step)
                print(f"rank {rt.rank}: saved step {step}", flush=True)
            if stop:
                ck.wait()  # committed before the job ends
                print(f"rank {rt.rank}: stopped at step {step}", flush=True)
                return rt.exit_for_requeue()
        ck.wait()

    field = u if comm is None else comm.gather(u, root=0)
    if rt.rank == 0:
        field = np.asarray(field) if comm is None else np.concatenate(field)
        if args.out:
            np.save(args.out, field)
        print(f"done at step {step} on {rt.size} ranks: sum {field.sum()!r} max {field.max()!r}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
