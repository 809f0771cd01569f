# SPDX-License-Identifier: Apache-2.0
# Checkpoints from Python: examples/python/simulation.py stopped by SIGUSR1 (exit 75) or killed
# with SIGKILL restarts from its checkpoint to the uninterrupted run's result; protect() refuses
# arrays it cannot restore into.
import os
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
           "--cells", "20000", *extra]
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
