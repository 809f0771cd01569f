# SPDX-License-Identifier: Apache-2.0
# examples/python/analysis.py under mpirun: 1, 2 and 4 ranks, with MPI started by mpi4py or by
# strata itself, give the same merged answer (counts, extremes and histogram exactly; moments to 1e-12).
import json
import os
import subprocess
import sys

import pytest

def run(mpirun, ranks, dataset, *extra):
    done = mpirun(ranks, os.environ["STRATA_ANALYSIS_EXAMPLE"], dataset, "--json", *extra)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout  # rank 0 alone prints
    return json.loads(lines[0])


def test_rank_count_independent(gen, mpirun):
    # Each rank reduces its own rows; the merge in rank order gives the 1-rank answer. (One dtype:
    # each mpirun costs seconds; the kernels' dtypes are covered in process.)
    path = gen(dtype="f64", size="4M", low=0, high=100)
    one = run(mpirun, 1, path)
    two = run(mpirun, 2, path)
    two_own = run(mpirun, 2, path, "--no-mpi4py")  # strata starts MPI itself
    four = run(mpirun, 4, path)
    assert (one["ranks"], two["ranks"], two_own["ranks"], four["ranks"]) == (1, 2, 2, 4)
    for other in (two, two_own, four):
        for key in ("count", "min", "max", "histogram", "underflow", "overflow", "above"):
            assert other[key] == one[key], key
        for key in ("sum", "mean", "variance"):
            assert other[key] == pytest.approx(one[key], rel=1e-12), key
    assert one["count"] == 4 * 2**20 // 8


def test_abort_ends_the_process_with_its_code():
    # Runtime.abort ends the process at once with the given code (MPI_Abort under a launcher).
    done = subprocess.run([sys.executable, "-c", "import strata; strata.runtime().abort(3); "
                           "print('still here')"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "still here" not in done.stdout
