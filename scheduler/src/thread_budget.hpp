// SPDX-License-Identifier: Apache-2.0
// How many threads an Executor runs and on which NUMA node: the STRATA_THREADS variable, the
// limit on oversubscription, and the split over nodes (the rule of PlacementPlan::by_rows).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "strata/runtime/machine/topology.hpp"

namespace strata::detail {

// STRATA_THREADS as a positive count; nullopt when unset or empty. Error(config) naming the
// variable and its value when it is not a plain decimal number in [1, 2^31).
std::optional<unsigned> threads_from_environment();
std::optional<unsigned> parse_thread_count(std::string_view text);

// Threads per logical node: `total` split in proportion to each node's allowed CPUs, at least one
// for every node that has an allowed CPU, none for the others.
std::vector<unsigned> split_threads(const Topology& topology, unsigned total);

}  // namespace strata::detail
