// SPDX-License-Identifier: Apache-2.0
// What it costs to get memory's pages in, per byte, with 4 KiB pages, 2 MiB hugetlb pages and
// transparent huge pages: first touch (a write to every page of a fresh region) and populate
// (PlacedRegion::populate, the MADV_POPULATE_WRITE behind RegionOptions::populate). 4 KiB is the
// baseline of each, so a ratio is the speed-up the larger pages give.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

#include "memory_settings.hpp"
#include "page_kinds.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/placed_region.hpp"

namespace strata::bench::memory {
namespace {

// One write per 4 KiB, whatever the page size: every page of every kind is faulted in, and the
// huge-page cases pay the same stores as the 4 KiB case, so only the faults differ.
constexpr std::size_t touch_stride_bytes = 4096;

// volatile: the stores are the point, and nothing reads them back.
[[gnu::noinline]] void touch_pages(std::byte* data, std::size_t bytes) noexcept {
  volatile std::byte* p = data;
  for (std::size_t offset = 0; offset < bytes; offset += touch_stride_bytes) {
    p[offset] = std::byte{1};
  }
}

// Each pass maps a fresh region (untimed), then faults it in (timed); the previous pass's region
// is checked and unmapped untimed as well, since neither is the cost measured. `fault_in` returns
// false, after state.SkipWithError, when it could not do its work.
template <class FaultIn>
void fault_passes(benchmark::State& state, PageSize kind, FaultIn fault_in) {
  PlacedRegion region;
  for (auto _ : state) {
    state.PauseTiming();
    if (!region.empty() && !pages_are(state, region, kind)) break;
    region = PlacedRegion();
    region = allocate_pages(state, fault_region_bytes, kind);
    if (region.empty()) break;
    state.ResumeTiming();
    if (!fault_in(region)) break;
  }
  if (!state.error_occurred() && !region.empty()) pages_are(state, region, kind);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(fault_region_bytes));
}

void first_touch(benchmark::State& state, PageSize kind) {
  set_ratio_label(state, first_touch_baseline, kind == PageSize::base);
  fault_passes(state, kind, [](const PlacedRegion& region) {
    touch_pages(region.data(), region.mapped_bytes());
    return true;
  });
}

void populate(benchmark::State& state, PageSize kind) {
  set_ratio_label(state, populate_baseline, kind == PageSize::base);
  fault_passes(state, kind, [&state](PlacedRegion& region) {
    try {
      if (region.populate()) return true;
      state.SkipWithError("populate skipped: the machine is short of memory");
    } catch (const Error& e) {
      state.SkipWithError(e.what());
    }
    return false;
  });
}

BENCHMARK_CAPTURE(first_touch, base_4k, PageSize::base)->Apply(apply_run_settings);
BENCHMARK_CAPTURE(first_touch, hugetlb_2m, PageSize::huge_2m)->Apply(apply_run_settings);
BENCHMARK_CAPTURE(first_touch, thp, PageSize::transparent)->Apply(apply_run_settings);

BENCHMARK_CAPTURE(populate, base_4k, PageSize::base)->Apply(apply_run_settings);
BENCHMARK_CAPTURE(populate, hugetlb_2m, PageSize::huge_2m)->Apply(apply_run_settings);
BENCHMARK_CAPTURE(populate, thp, PageSize::transparent)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::memory
