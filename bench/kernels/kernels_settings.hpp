// SPDX-License-Identifier: Apache-2.0
// Run settings shared by every case of the kernels suite, and the full names of its baselines.
// Google Benchmark builds a case's full name from these settings, so the names are built here
// from the same constants (scripts/bench_report.py fails on a label naming an unknown case).
#pragma once

#include <benchmark/benchmark.h>

#include <string>

#include "common/run_settings.hpp"

namespace strata::bench::kernels {

// Eight short repetitions, interleaved at random by scripts/bench, and their median: about a
// minute and a half for the whole suite on the 2-core development VM.
inline constexpr double min_time_seconds = 0.2;
inline constexpr int repetitions = 8;

// "<case>/min_time:0.200/repeats:8/real_time", plus "/threads:<n>" for cases registered with
// ->Threads(n) (Google Benchmark's own threads, each reading its slice).
inline std::string full_name(const std::string& name, int benchmark_threads = 0) {
  std::string full = name + "/min_time:0.200/repeats:" + std::to_string(repetitions) + "/real_time";
  if (benchmark_threads > 0) full += "/threads:" + std::to_string(benchmark_threads);
  return full;
}

// The baselines: bench/limits' read loop and memcpy at one and at all (two) threads.
inline std::string read_sum_name(int threads) { return full_name("read_sum", threads); }
inline std::string memcpy_name(int threads) { return full_name("memcpy", threads); }

// The independent limits (common/openmp_limits.hpp), timed as one OpenMP region each:
// "<case>/threads:<n>/min_time:0.200/repeats:8/manual_time".
inline std::string timed_region_name(const std::string& name, int threads) {
  return name + "/threads:" + std::to_string(threads) +
         "/min_time:0.200/repeats:" + std::to_string(repetitions) + "/manual_time";
}
inline std::string read_limit_name(int threads) { return timed_region_name("read_limit", threads); }
inline std::string histogram_limit_name(int threads) {
  return timed_region_name("histogram_openmp", threads);
}

inline void label_baseline(benchmark::State& state) { state.SetLabel("baseline"); }
inline void label_vs(benchmark::State& state, const std::string& baseline) {
  state.SetLabel("vs:" + baseline);
}

// Wall-clock time: with several threads it is what a job sees.
inline void apply_run_settings(benchmark::internal::Benchmark* b) {
  strata::bench::apply_run_settings(b, min_time_seconds, repetitions);
}

}  // namespace strata::bench::kernels
