// SPDX-License-Identifier: Apache-2.0
// The kernels suite's independent limits, over the same resident 256 MiB the strata cases read:
// the read limit and the plain OpenMP 64-bin histogram, each one OpenMP region timed as a whole
// (common/openmp_limits.hpp) at one and two threads, so a strata case's ratio to them does not
// rest on Google Benchmark's per-thread accounting; and the OpenMP histogram's own 1 → 2 gain.
#include "common/openmp_limits.hpp"

#include <benchmark/benchmark.h>

#include "kernels_settings.hpp"
#include "suite_data.hpp"

namespace strata::bench::kernels {
namespace {

constexpr HistogramBins bins{.low = hist_low, .high = hist_high, .bins = hist_bins};

void read_limit(benchmark::State& state) {
  read_limit_case(state, data().resident_span());
  label_baseline(state);
}

void histogram_pass(benchmark::State& state) {
  histogram_limit_case(state, data().resident_span(), bins);
}

void histogram_openmp(benchmark::State& state) {
  histogram_pass(state);
  label_vs(state, read_limit_name(static_cast<int>(state.range(0))));
}

// The same pass at two threads, against itself at one: what a second core gives a plain loop.
void histogram_openmp_scaling(benchmark::State& state) {
  histogram_pass(state);
  label_vs(state, histogram_limit_name(1));
}

void timed_region_settings(benchmark::internal::Benchmark* b) {
  strata::bench::apply_manual_time_settings(b, min_time_seconds, repetitions);
  b->ArgName("threads");
}

BENCHMARK(read_limit)->Apply(timed_region_settings)->Arg(1)->Arg(2);
BENCHMARK(histogram_openmp)->Apply(timed_region_settings)->Arg(1)->Arg(2);
BENCHMARK(histogram_openmp_scaling)->Apply(timed_region_settings)->Arg(2);

}  // namespace
}  // namespace strata::bench::kernels
