# SPDX-License-Identifier: Apache-2.0
"""strata from Python: datasets as zero-copy NumPy arrays, and the SIMD kernels on every core.

    import strata
    ds = strata.open("particles.strata:energy")     # or "run.h5:/fields/energy"
    part = ds.partition()                            # this rank's rows (all of them on one rank)
    s = strata.stats(part, allreduce=True)           # verified, parallel, merged across ranks
    h = strata.histogram(part, 64, (0.0, 100.0))
    energy = part.values()                           # read-only numpy view of the mapped file

Kernels take a strata.Partition or any C-contiguous NumPy array of float32, float64, int32 or
int64; they refuse other input with TypeError/ValueError rather than copy it. Errors of strata
itself are subclasses of strata.Error (ChecksumError, FormatError, FileError, ...).
"""

from ._strata import (  # noqa: F401  (the package's API)
    EXIT_REQUEUE,
    Checkpointer,
    ChecksumError,
    ConfigError,
    CorruptDataError,
    Dataset,
    DistributedError,
    Error,
    FileError,
    FormatError,
    Histogram,
    InvalidArgumentError,
    Partition,
    ResourceError,
    SaveStatus,
    Runtime,
    Stats,
    Summary,
    SystemCallError,
    UnsupportedError,
    count,
    histogram,
    open,
    partition_rows,
    runtime,
    stats,
    summarize,
)

__version__ = "@PROJECT_VERSION@"
