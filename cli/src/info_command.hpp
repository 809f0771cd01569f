// SPDX-License-Identifier: Apache-2.0
// `strata info`: the machine and the job as strata sees them (topology, huge pages, SIMD targets,
// MPI and Slurm), human-readable or --json; under mpirun every rank is reported by rank 0.
#pragma once

#include <CLI/CLI.hpp>

namespace strata::cli {

void add_info_command(CLI::App& app);

}  // namespace strata::cli
