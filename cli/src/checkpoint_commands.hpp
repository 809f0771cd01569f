// SPDX-License-Identifier: Apache-2.0
// `strata ckpt list | verify | export | prune`: inspect, check, convert and trim a checkpoint
// folder without running the simulation that wrote it.
#pragma once

#include <CLI/CLI.hpp>

namespace strata::cli {

void add_checkpoint_commands(CLI::App& app);

}  // namespace strata::cli
