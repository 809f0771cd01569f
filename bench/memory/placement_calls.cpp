// SPDX-License-Identifier: Apache-2.0
// What a placement costs at the call: PlacedRegion::allocate (and free) of a 2 MiB region with
// bind(0) and interleave() against local, the kernel default that applies no policy; and
// migrate(0) of a populated region. Counted in calls per second.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>

#include "memory_settings.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/placed_region.hpp"
#include "strata/runtime/memory/placement.hpp"

namespace strata::bench::memory {
namespace {

// 4 KiB pages and no populate: the call's own work (mmap, the policy through hwloc, the smaps
// read-back, munmap) without page faults, and without drawing on the hugetlb pool, whose state
// would otherwise decide which path the call takes.
RegionOptions untouched(Placement placement) {
  return {.placement = std::move(placement), .largest_pages = PageSize::base, .populate = false};
}

void allocate(benchmark::State& state, const Placement& placement) {
  set_ratio_label(state, allocate_baseline, placement == Placement::local());
  try {
    for (auto _ : state) {
      PlacedRegion region =
          PlacedRegion::allocate(suite_topology(), placement_region_bytes, untouched(placement));
      benchmark::DoNotOptimize(region.data());
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}

// The pages are on `node` after the first call (on a one-node machine, from the start): this is
// the call — policy change and page walk — not the copy of a real move, which is a bandwidth
// question for another case.
void migrate(benchmark::State& state, unsigned node) {
  set_ratio_label(state, allocate_baseline, false);
  try {
    RegionOptions options = untouched(Placement::local());
    options.populate = true;
    PlacedRegion region = PlacedRegion::allocate(suite_topology(), placement_region_bytes, options);
    if (!region.populated()) {
      state.SkipWithError("populate skipped: the machine is short of memory");
      return;
    }
    for (auto _ : state) region.migrate(node);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  state.SetItemsProcessed(state.iterations());
}

// Microseconds: a call takes some, not milliseconds.
void placement_settings(benchmark::internal::Benchmark* b) {
  apply_run_settings(b);
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(allocate, local, Placement::local())->Apply(placement_settings);
BENCHMARK_CAPTURE(allocate, bind0, Placement::bind(0))->Apply(placement_settings);
BENCHMARK_CAPTURE(allocate, interleave, Placement::interleave())->Apply(placement_settings);
BENCHMARK_CAPTURE(migrate, node0, 0u)->Apply(placement_settings);

}  // namespace
}  // namespace strata::bench::memory
