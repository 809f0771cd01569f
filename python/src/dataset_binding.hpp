// SPDX-License-Identifier: Apache-2.0
// strata.open, strata.Dataset, strata.Partition and strata.partition_rows: datasets from .strata
// or HDF5 files, a rank's partition (strata's row split), and its values as a zero-copy read-only
// NumPy array.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "strata/io/dataset/dataset.hpp"
#include "strata/runtime/base/dtype.hpp"

namespace strata::python {

// The Python object behind strata.Partition; the kernels reduce it directly, verifying each
// checksum chunk in the thread that reads it.
struct PartitionHandle {
  io::Partition partition;
};

// The NumPy dtype of a strata dtype (native byte order).
pybind11::dtype numpy_dtype(DType dtype);

void bind_datasets(pybind11::module_& m);

}  // namespace strata::python
