// SPDX-License-Identifier: Apache-2.0
// Run settings and case names of the pools suite. A case's full name is built here from the same
// settings Google Benchmark appends, so a "vs:" label always names a case of the same run.
#pragma once

#include <benchmark/benchmark.h>

#include <string>

#include "common/run_settings.hpp"

namespace strata::bench::pools {

// Many short repetitions, interleaved by scripts/bench with every other case's, so a busy spell
// of the shared machine hits a case and its peer alike.
inline constexpr double min_time_seconds = 0.05;
inline constexpr int repetitions = 8;
inline constexpr const char* settings_suffix = "/min_time:0.050/repeats:8/real_time";

inline std::string full_name(const std::string& name) { return name + settings_suffix; }

// Registers `name` with the suite's settings; labels it the baseline, or vs:<baseline>.
template <class Fn>
benchmark::internal::Benchmark* add_case(const std::string& name, const std::string& baseline,
                                         Fn&& fn) {
  const bool is_baseline = name == baseline;
  const std::string base_full = full_name(baseline);
  auto* b = benchmark::RegisterBenchmark(name.c_str(),
                                         [fn, is_baseline, base_full](benchmark::State& state) {
                                           fn(state);
                                           label_ratio(state, base_full.c_str(), is_baseline);
                                         });
  apply_run_settings(b, min_time_seconds, repetitions);
  b->Unit(benchmark::kMicrosecond);
  return b;
}

// The same for a case run on `threads` threads at once (Google Benchmark appends /threads:N after
// the run settings, so the baseline's full name carries it too).
inline benchmark::internal::Benchmark* add_threaded_case(const std::string& name,
                                                         const std::string& baseline, int threads,
                                                         void (*fn)(benchmark::State&)) {
  const bool is_baseline = name == baseline;
  const std::string base_full = full_name(baseline) + "/threads:" + std::to_string(threads);
  auto* b = benchmark::RegisterBenchmark(name.c_str(),
                                         [fn, is_baseline, base_full](benchmark::State& state) {
                                           fn(state);
                                           label_ratio(state, base_full.c_str(), is_baseline);
                                         });
  apply_run_settings(b, min_time_seconds, repetitions);
  b->Unit(benchmark::kMicrosecond)->Threads(threads);
  return b;
}

// Cases registered by each file of the suite (main.cpp calls them).
// `system` names the allocator behind malloc (system_malloc_name()); its cases carry that name.
void register_single_thread_cases(const std::string& system);
void register_cross_thread_cases(const std::string& system);
void register_rcu_cases();
void register_handle_arena_cases();
void register_pressure_cases();

}  // namespace strata::bench::pools
