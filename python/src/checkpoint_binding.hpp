// SPDX-License-Identifier: Apache-2.0
// strata.Checkpointer: checkpoint/restart of NumPy arrays through strata::io::Checkpointer.
#pragma once

#include <pybind11/pybind11.h>

namespace strata::python {

void bind_checkpoints(pybind11::module_& m);

}  // namespace strata::python
