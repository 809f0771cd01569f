// SPDX-License-Identifier: Apache-2.0
// Sizes, run settings and baseline names of the resident suite. The baselines' full names are
// built by Google Benchmark from these settings, so both live here: change one, change the other.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

#include "common/run_settings.hpp"

namespace strata::bench::resident {

// The dataset: 8 GiB of f64 by default, larger than what a TLB of a couple of thousand entries
// maps with 4 KiB pages (some 8 MiB) and than what it maps with 2 MiB pages (a few GiB), so the
// random reads show the page size. STRATA_BENCH_RESIDENT_GIB (a whole number ≥ 2) makes it
// smaller for a quick look; the ratios of the random reads then flatter neither kind less.
inline constexpr std::uint64_t default_dataset_gib = 8;
// The load cases load the dataset's first 2 GiB (the partition of rank 0 of dataset ÷ 2 GiB).
inline constexpr std::uint64_t load_bytes = std::uint64_t{2} << 30;
// Random 8-byte reads per timed pass: 4 Mi, some 32 MiB of indices, well under a second a pass.
inline constexpr std::uint64_t random_reads = std::uint64_t{1} << 22;
inline constexpr std::uint64_t random_seed = 17;
// Threads of the plain two-thread loops, as many as the Executor gets on this 2-CPU machine.
inline constexpr int plain_threads = 2;
// pread piece of the dd-style baseline (dd bs=8M) and of the plain two-thread loops.
inline constexpr std::uint64_t pread_piece_bytes = std::uint64_t{8} << 20;

// Every case times its own region (after an untimed set-up: dropping or warming the page cache,
// opening a fresh dataset), one iteration per repetition: a load of 2 GiB or a pass over 8 GiB is
// long enough on its own, and a cold case must drop the cache before each.
inline constexpr int repetitions = 5;

inline constexpr const char* cold_baseline = "cold/pread_8m_1t/iterations:1/repeats:5/manual_time";
inline constexpr const char* warm_baseline = "warm/memcpy_2t/iterations:1/repeats:5/manual_time";
inline constexpr const char* random_baseline =
    "random_8b/mapped_4k/iterations:1/repeats:5/manual_time";
inline constexpr const char* scan_baseline = "scan/mapped/iterations:1/repeats:5/manual_time";

inline void label(benchmark::State& state, const char* baseline_name, bool is_baseline) {
  strata::bench::label_ratio(state, baseline_name, is_baseline);
}

inline void apply_run_settings(benchmark::internal::Benchmark* b) {
  b->Iterations(1)
      ->Repetitions(repetitions)
      ->ReportAggregatesOnly(true)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace strata::bench::resident
