// SPDX-License-Identifier: Apache-2.0
// Run settings shared by every case of the limits suite, and the name of its baseline.
// The baseline's full name is built by Google Benchmark from these settings, so both live here:
// change one and the other must follow (scripts/bench_report.py fails on an unknown baseline).
#pragma once

#include <benchmark/benchmark.h>

#include <string>
#include <thread>

#include "common/run_settings.hpp"

namespace strata::bench::limits {

// Ten short repetitions and their median: scripts/bench interleaves the repetitions of all cases
// in random order, so a busy spell of the shared machine falls on every case alike instead of on
// one, and the median drops what is left of it. The whole suite takes about half a minute.
inline constexpr double min_time_seconds = 0.2;
inline constexpr int repetitions = 10;

// The one-thread read loop (memory_bandwidth.cpp) is what every other case is a ratio to.
inline constexpr const char* baseline_name =
    "read_sum/min_time:0.200/repeats:10/real_time/threads:1";

// Labels a case for the report: "baseline", or "vs:<baseline name>" (bench/README.md).
inline void set_ratio_label(benchmark::State& state, bool is_baseline) {
  strata::bench::label_ratio(state, baseline_name, is_baseline);
}

// Wall-clock time, not CPU time: with several threads, and for I/O that waits on the device,
// wall-clock time is what a job sees.
inline void apply_run_settings(benchmark::internal::Benchmark* b) {
  strata::bench::apply_run_settings(b, min_time_seconds, repetitions);
}

// The independent limits (common/openmp_limits.hpp) time one parallel region themselves: manual
// time, one case per thread count as its argument ("<name>/threads:<n>/.../manual_time"), at one
// thread and at every hardware thread.
inline void apply_timed_region_settings(benchmark::internal::Benchmark* b) {
  strata::bench::apply_manual_time_settings(b, min_time_seconds, repetitions);
  b->ArgName("threads")->Arg(1);
  const int all = static_cast<int>(std::thread::hardware_concurrency());
  if (all > 1) b->Arg(all);
}

}  // namespace strata::bench::limits
