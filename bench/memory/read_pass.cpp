// SPDX-License-Identifier: Apache-2.0
// The TLB effect: one thread reads a populated 1 GiB placed region with bench/limits' read loop,
// backed by 4 KiB pages, 2 MiB hugetlb pages or transparent huge pages. The baseline is that same
// loop over memory mapped as bench/limits maps it, so a ratio says how close each page kind comes
// to the machine's one-thread read limit.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/read_loop.hpp"
#include "memory_settings.hpp"
#include "page_kinds.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/placed_region.hpp"

namespace strata::bench::memory {
namespace {

constexpr std::size_t read_doubles = read_region_bytes / sizeof(double);

// Every byte holds part of a 1.0, as bench/limits' arrays do, so all cases read the same data.
void fill_ones(std::span<double> x) { std::fill(x.begin(), x.end(), 1.0); }

// The timed passes of the read loop over `x`. The setup before them (mapping, faulting, filling)
// runs once per repetition, so each repetition reads freshly allocated physical pages.
void time_reads(benchmark::State& state, std::span<const double> x) {
  for (auto _ : state) benchmark::DoNotOptimize(sum_doubles(x));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(x.size_bytes()));
}

// bench/limits' mapping: anonymous, advised for transparent huge pages where the kernel grants
// them, first touched by the fill. Not a PlacedRegion, so the baseline owes nothing to strata.
void read_sum(benchmark::State& state) {
  set_ratio_label(state, read_baseline, true);
  void* p = ::mmap(nullptr, read_region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) {
    state.SkipWithError("cannot map 1 GiB for the baseline");
    return;
  }
  ::madvise(p, read_region_bytes, MADV_HUGEPAGE);  // failure only means 4 KiB pages, as in limits
  const std::span<double> x(static_cast<double*>(p), read_doubles);
  fill_ones(x);
  time_reads(state, x);
  ::munmap(p, read_region_bytes);
}

// A placed region populated as strata's arrays are (RegionOptions::populate), then filled.
void read_pass(benchmark::State& state, PageSize kind) {
  set_ratio_label(state, read_baseline, false);
  PlacedRegion region = allocate_pages(state, read_region_bytes, kind);
  if (region.empty()) return;
  try {
    if (!region.populate()) {
      state.SkipWithError("populate skipped: the machine is short of memory");
      return;
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  const std::span<double> x(reinterpret_cast<double*>(region.data()), read_doubles);
  fill_ones(x);
  if (!pages_are(state, region, kind)) return;
  time_reads(state, x);
}

// One thread, as bench/limits' baseline read_sum: the TLB reach is per core.
BENCHMARK(read_sum)->Apply(apply_run_settings);
BENCHMARK_CAPTURE(read_pass, base_4k, PageSize::base)->Apply(apply_run_settings);
BENCHMARK_CAPTURE(read_pass, hugetlb_2m, PageSize::huge_2m)->Apply(apply_run_settings);
BENCHMARK_CAPTURE(read_pass, thp, PageSize::transparent)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::memory
