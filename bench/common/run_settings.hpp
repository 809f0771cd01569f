// SPDX-License-Identifier: Apache-2.0
// The run settings and ratio labels every suite shares (bench/README.md): wall-clock time,
// aggregates only, and the "baseline" / "vs:<baseline name>" labels scripts/bench_report.py reads.
#pragma once

#include <benchmark/benchmark.h>

#include <string>

namespace strata::bench {

// Labels a case for the report: "baseline", or "vs:<baseline name>".
inline void label_ratio(benchmark::State& state, const char* baseline_name, bool is_baseline) {
  state.SetLabel(is_baseline ? std::string("baseline") : std::string("vs:") + baseline_name);
}

// Wall-clock time (with several threads, and for I/O that waits on the device, it is what a job
// sees), repeated and reported as aggregates, in milliseconds.
inline void apply_run_settings(benchmark::internal::Benchmark* b, double min_time_seconds,
                               int repetitions) {
  b->MinTime(min_time_seconds)
      ->Repetitions(repetitions)
      ->ReportAggregatesOnly(true)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

// The same for a case that times its own region (state.SetIterationTime): manual time instead of
// the wall-clock time of the benchmark loop, which Google Benchmark refuses to combine.
inline void apply_manual_time_settings(benchmark::internal::Benchmark* b, double min_time_seconds,
                                       int repetitions) {
  b->MinTime(min_time_seconds)
      ->Repetitions(repetitions)
      ->ReportAggregatesOnly(true)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace strata::bench
