// SPDX-License-Identifier: Apache-2.0
// strata::Error as Python exceptions: strata.Error and one subclass per category, raised with the
// full one-line message and the category, message and context as attributes.
#pragma once

#include <pybind11/pybind11.h>

namespace strata::python {

// Creates strata.Error and its subclasses in `m` and registers the translator.
void bind_errors(pybind11::module_& m);

}  // namespace strata::python
