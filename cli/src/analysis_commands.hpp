// SPDX-License-Identifier: Apache-2.0
// The analysis subcommands: stats and hist over a dataset array, on every core, merged across
// ranks when run under mpirun.
#pragma once

#include <CLI/CLI.hpp>

namespace strata::cli {

void add_analysis_commands(CLI::App& app);

}  // namespace strata::cli
