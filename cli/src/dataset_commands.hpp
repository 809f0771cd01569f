// SPDX-License-Identifier: Apache-2.0
// The dataset subcommands: gen (synthetic .strata files), inspect, verify, import (HDF5 into
// .strata) and export (.strata into HDF5).
#pragma once

#include <CLI/CLI.hpp>

namespace strata::cli {

void add_dataset_commands(CLI::App& app);

}  // namespace strata::cli
