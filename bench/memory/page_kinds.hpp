// SPDX-License-Identifier: Apache-2.0
// The three kinds of pages the memory suite compares — 4 KiB, 2 MiB hugetlb, transparent huge
// pages — and the guard that a case measures the kind it names: regions are allocated without
// fallback, and what the kernel really gave is checked before a measurement counts.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>

#include "strata/runtime/memory/placed_region.hpp"

namespace strata::bench::memory {

// An unpopulated region of `bytes` backed by `kind` pages only (base, transparent or huge_2m),
// on the suite's topology with local placement. When the machine cannot give that kind, calls
// state.SkipWithError with the reason ("no 2 MiB pages: ...") and returns an empty region.
PlacedRegion allocate_pages(benchmark::State& state, std::size_t bytes, PageSize kind);

// Whether the kernel backs the touched (or populated) `region` with `kind` pages, read back from
// /proc/self/smaps. When it does not, calls state.SkipWithError saying what it found instead.
bool pages_are(benchmark::State& state, const PlacedRegion& region, PageSize kind);

}  // namespace strata::bench::memory
