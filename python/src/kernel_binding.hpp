// SPDX-License-Identifier: Apache-2.0
// strata.stats, strata.histogram, strata.count and strata.summarize (their one-pass combination)
// on the executor's threads, and their result types.
#pragma once

#include <pybind11/pybind11.h>

namespace strata::python {

void bind_kernels(pybind11::module_& m);

}  // namespace strata::python
