// SPDX-License-Identifier: Apache-2.0
// The one-pass analysis written as a plain fused OpenMP loop, to hold strata::combine against: each
// value updates the moments (sum, sum of squares, min, max), a 64-bin histogram and the count
// above the threshold, in one loop over each thread's static share; per-thread results merge at
// the end. All threads (OpenMP's default: one per CPU, two here).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "kernels_settings.hpp"
#include "suite_data.hpp"

namespace strata::bench::kernels {
namespace {

struct fused_results {
  double sum = 0.0;
  double sum_squares = 0.0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::array<std::uint64_t, hist_bins + 2> counts{};  // underflow, the bins, overflow
  std::uint64_t above = 0;
};

[[gnu::noinline]] fused_results openmp_analysis(std::span<const double> x) noexcept {
  fused_results total;
  const double scale = static_cast<double>(hist_bins) / (hist_high - hist_low);
  const auto n = static_cast<std::int64_t>(x.size());
  const double* p = x.data();
#pragma omp parallel
  {
    fused_results mine;
#pragma omp for schedule(static) nowait
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = p[i];
      mine.sum += v;
      mine.sum_squares += v * v;
      mine.min = std::min(mine.min, v);
      mine.max = std::max(mine.max, v);
      std::size_t bin = 0;
      if (v >= hist_high) {
        bin = hist_bins + 1;
      } else if (v >= hist_low) {
        bin = 1 + std::min(hist_bins - 1, static_cast<std::size_t>((v - hist_low) * scale));
      }
      ++mine.counts[bin];
      mine.above += v > count_threshold ? 1 : 0;
    }
#pragma omp critical
    {
      total.sum += mine.sum;
      total.sum_squares += mine.sum_squares;
      total.min = std::min(total.min, mine.min);
      total.max = std::max(total.max, mine.max);
      for (std::size_t b = 0; b < total.counts.size(); ++b) total.counts[b] += mine.counts[b];
      total.above += mine.above;
    }
  }
  return total;
}

void analysis_openmp(benchmark::State& state) {
  const auto x = data().resident_span();
  for (auto _ : state) benchmark::DoNotOptimize(openmp_analysis(x));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(x.size_bytes()));
  label_vs(state, read_limit_name(2));
}
BENCHMARK(analysis_openmp)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::kernels
