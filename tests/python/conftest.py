# SPDX-License-Identifier: Apache-2.0
# Fixtures of the Python tests: the strata command (STRATA_CLI), datasets it generates, and Python
# scripts under mpirun (MPIEXEC).
import json
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def strata_cli():
    return os.environ["STRATA_CLI"]


@pytest.fixture(scope="session")
def gen(strata_cli, tmp_path_factory):
    """gen(dtype, size, low, high, chunk) -> path of a .strata file made by `strata gen`."""
    made = {}
    folder = tmp_path_factory.mktemp("data")

    def make(dtype="f64", size="4M", low=0, high=100, chunk="1M", seed=1):
        key = (dtype, size, low, high, chunk, seed)
        if key not in made:
            path = folder / f"{dtype}-{size}-{low}-{high}-{chunk}-{seed}.strata"
            subprocess.run([strata_cli, "gen", str(path), "--dtype", dtype, "--size", size,
                            "--low", str(low), "--high", str(high), "--chunk", chunk,
                            "--seed", str(seed), "--threads", "2"],
                           check=True, capture_output=True)
            made[key] = path
        return made[key]

    return make


@pytest.fixture(scope="session")
def inspect(strata_cli):
    """inspect(path) -> `strata inspect --json` of the file."""
    def run(path):
        out = subprocess.run([strata_cli, "inspect", "--json", str(path)], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out)
    return run


# Open MPI refuses to run as root without the first two; one thread per rank keeps 4 ranks on 2
# cores from crowding each other.
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none", STRATA_THREADS="1")


@pytest.fixture(scope="session")
def mpirun():
    """mpirun(ranks, script, *args): CompletedProcess of `mpirun -np ranks python3 script args`."""
    def run(ranks, script, *args, timeout=120):
        cmd = [os.environ["MPIEXEC"], "-np", str(ranks), "--oversubscribe", sys.executable,
               str(script), *map(str, args)]
        return subprocess.run(cmd, env=MPI_ENV, capture_output=True, text=True, timeout=timeout)
    return run
