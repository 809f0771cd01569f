# SPDX-License-Identifier: Apache-2.0
# Checkpoints from Python: examples/python/simulation.py stopped by SIGUSR1 (exit 75) or killed
# with SIGKILL restarts from its checkpoint to the uninterrupted run's result, and stopped on 2
# ranks restarts on 1 and on 4 to the field NumPy computes alone; protect() refuses arrays it
# cannot restore into, and rows that do not fit the global shape.
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import strata

SIMULATION = Path(__file__).resolve().parents[2] / "examples" / "python" / "simulation.py"


def start(folder, *extra):
    cmd = [sys.executable, str(SIMULATION), "--dir", str(folder), "--steps", "60", "--every", "10",
           "--ny", "100", "--nx", "200", *extra]
    env = dict(os.environ, STRATA_THREADS="1")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def final_line(proc):
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return [line for line in out.splitlines() if "done at step" in line][0]


def interrupt_after_first_save(folder, sig):
    proc = start(folder, "--step-seconds", "0.02")
    for line in proc.stdout:
        if "saved step" in line:
            break
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    return proc.returncode


@pytest.mark.parametrize("sig, code", [(signal.SIGUSR1, strata.EXIT_REQUEUE),
                                       (signal.SIGKILL, -signal.SIGKILL)])
def test_interrupted_simulation_restarts_to_same_result(tmp_path, sig, code):
    # A stopped (exit 75) or killed run continues from its checkpoint to the bits of a run that
    # was never interrupted; a restart from step 0 or a lost state would differ.
    expected = final_line(start(tmp_path / "whole"))
    assert interrupt_after_first_save(tmp_path / "cut", sig) == code
    restarted = start(tmp_path / "cut")
    line = final_line(restarted)
    assert line == expected


def test_protect_refuses_what_restore_cannot_write(tmp_path):
    # A strided view, a read-only array or an unsupported dtype cannot be protected.
    with strata.Checkpointer(str(tmp_path / "ck")) as ck:
        u = np.zeros((10, 10))
        with pytest.raises(ValueError, match="C-contiguous"):
            ck.protect("u", u[:, ::2])
        ro = np.zeros(10)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            ck.protect("ro", ro)
        with pytest.raises(TypeError, match="cannot be checkpointed"):
            ck.protect("c", np.zeros(4, dtype=np.complex128))
        ck.protect("u", u)
        u[:] = 7.0
        ck.save(1)
        assert ck.wait().committed
        u[:] = 0.0
        assert ck.restore_latest() == 1 and (u == 7.0).all()
    with pytest.raises(strata.InvalidArgumentError, match="closed"):
        ck.save(2)


def heat_reference(ny, nx, steps):
    """The simulation's field after `steps` steps, on the whole grid in one NumPy array."""
    u = np.zeros((ny, nx))
    u[ny // 4 : ny // 2, nx // 3 : 2 * nx // 3] = 100.0
    for _ in range(steps):
        u[1:-1, 1:-1] += 0.2 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:]
                                - 4.0 * u[1:-1, 1:-1])
    return u


def test_restart_on_other_rank_counts(tmp_path, mpirun):
    # Stopped at step 25 on 2 ranks (rows 0-25 and 26-50), restored on 1 rank and on 4 (13, 13,
    # 13, 12 rows): each ends with NumPy's one-process field, bit for bit. Restoring a rank's old
    # block instead of its new rows, or losing the state (15 steps from the initial field), would
    # differ; a restart from step 0 would not say "starting at step 25".
    ny, nx, steps = 51, 40, 40
    grid = ["--ny", ny, "--nx", nx, "--steps", steps, "--every", 10]
    stopped = mpirun(2, SIMULATION, *grid, "--dir", tmp_path / "ck", "--stop-at-step", 25)
    assert stopped.returncode == strata.EXIT_REQUEUE, stopped.stderr
    assert stopped.stdout.count("stopped at step 25") == 2, stopped.stdout
    expected = heat_reference(ny, nx, steps)
    assert not np.array_equal(expected, heat_reference(ny, nx, steps - 25))  # state matters
    for ranks in (1, 4):
        folder = tmp_path / f"ck-{ranks}"
        shutil.copytree(tmp_path / "ck", folder)
        out = tmp_path / f"field-{ranks}.npy"
        cmd = [*grid, "--dir", folder, "--out", out]
        if ranks == 1:  # started directly, as on a laptop (and without mpirun's start-up)
            done = subprocess.run([sys.executable, SIMULATION, *map(str, cmd)],
                                  env=dict(os.environ, STRATA_THREADS="1"),
                                  capture_output=True, text=True, timeout=120)
        else:
            done = mpirun(ranks, SIMULATION, *cmd)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("starting at step 25") == ranks, done.stdout
        field = np.load(out)
        assert field.shape == (ny, nx)
        assert np.array_equal(field, expected), f"{ranks} ranks: max difference " \
            f"{np.abs(field - expected).max()}"


def test_protect_rows_of_a_global_array(tmp_path):
    # global_shape/first_row protect this rank's rows; they must be rows of that shape, and on one
    # rank they must cover it (rows that leave others uncovered fail the commit, leaving no step).
    with strata.Checkpointer(str(tmp_path / "ck")) as ck:
        u = np.zeros((6, 4))
        with pytest.raises(ValueError, match="not rows of global_shape"):
            ck.protect("u", u, global_shape=(6, 5))
        with pytest.raises(ValueError, match="not rows of global_shape"):
            ck.protect("u", u, global_shape=(24,))
        with pytest.raises(ValueError, match="needs global_shape"):
            ck.protect("u", u, first_row=2)
        with pytest.raises(strata.InvalidArgumentError, match="outside the global shape"):
            ck.protect("u", u, global_shape=(8, 4), first_row=3)
        ck.protect("u", u, global_shape=(6, 4), first_row=0)
        u[:] = np.arange(24.0).reshape(6, 4)
        ck.save(1)
        assert ck.wait().committed
        u[:] = 0.0
        assert ck.restore_latest() == 1 and (u == np.arange(24.0).reshape(6, 4)).all()
    with strata.Checkpointer(str(tmp_path / "gap")) as ck:
        ck.protect("v", np.zeros(3), global_shape=(5,), first_row=1)
        ck.save(1)
        with pytest.raises(strata.DistributedError, match="do not tile.*uncovered at row 0"):
            ck.wait()
    assert not [p for p in (tmp_path / "gap").iterdir() if p.name.startswith("step")]


def test_partition_rows_is_the_documented_split():
    # 10 rows on 4 ranks: the first 10 % 4 = 2 ranks take 3 rows, the others 2, in rank order.
    assert [strata.partition_rows(10, r, 4) for r in range(4)] == [(0, 3), (3, 3), (6, 2), (8, 2)]
    assert strata.partition_rows(10) == (0, 10)  # this process: rank 0 of 1
    with pytest.raises(TypeError, match="both rank and size"):
        strata.partition_rows(10, 1)
