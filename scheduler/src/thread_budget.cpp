// SPDX-License-Identifier: Apache-2.0
// STRATA_THREADS parsing and the split of threads over NUMA nodes. The split reuses
// PlacementPlan::by_rows (one "row" per thread) so threads and data follow the same proportions.
#include "thread_budget.hpp"

#include <charconv>
#include <cstdlib>
#include <limits>
#include <string>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/placement_plan.hpp"

namespace strata::detail {

std::optional<unsigned> parse_thread_count(std::string_view text) {
  if (text.empty()) return std::nullopt;
  unsigned value = 0;
  const char* end = text.data() + text.size();
  // from_chars takes no sign, space or prefix, so "-1", " 4", "+4" and "0x4" all fail here.
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value == 0 ||
      value > static_cast<unsigned>(std::numeric_limits<int>::max())) {
    throw Error(ErrorCategory::config, "STRATA_THREADS must be a positive whole number of threads",
                {{"variable", "STRATA_THREADS"}, {"value", std::string(text)}});
  }
  return value;
}

std::optional<unsigned> threads_from_environment() {
  const char* text = std::getenv("STRATA_THREADS");
  return text == nullptr ? std::nullopt : parse_thread_count(text);
}

std::vector<unsigned> split_threads(const Topology& topology, unsigned total) {
  const auto& nodes = topology.numa_nodes();
  std::vector<unsigned> threads(nodes.size(), 0);
  const PlacementPlan by_threads = PlacementPlan::by_rows(topology, total, 1);
  for (const auto& b : by_threads.blocks()) {
    threads[b.node] = static_cast<unsigned>(b.rows);
  }
  for (const auto& n : nodes) {
    // A node with CPUs but too small a share still gets a thread: its data must run somewhere
    // near it, and borrowing another node's arena would defeat the placement.
    if (threads[n.index] == 0 && n.cpus.intersects(topology.allowed_cpus())) threads[n.index] = 1;
  }
  return threads;
}

}  // namespace strata::detail
