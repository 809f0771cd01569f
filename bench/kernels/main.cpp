// SPDX-License-Identifier: Apache-2.0
// strata_bench_kernels' main(): makes the suite's data (suite_data.hpp) and checks, untimed, that
// the strata passes compute what a plain loop computes (a fast wrong answer is no result), before
// any case runs; then runs the cases.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "common/read_loop.hpp"
#include "strata/kernels/filter.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/kernels/stencil.hpp"
#include "strata/scheduler/parallel.hpp"
#include "suite_data.hpp"

namespace strata::bench::kernels {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("result check failed: " + what);
}

// Statistics, histogram and count_if at both thread counts (and statistics over the mapped file)
// against the read loop's sum and a scalar count; the one-pass analysis against the three passes.
void check_results() {
  const auto x = data().resident_span();
  const double sum = sum_doubles(x);
  std::uint64_t above = 0;
  for (const double v : x) above += v > count_threshold ? 1 : 0;
  for (const unsigned threads : {1u, 2u}) {
    Executor& ex = data().executor(threads);
    const std::string at = " (" + std::to_string(threads) + " threads)";
    const auto s = strata::reduce(ex, data().resident(), strata::kernels::Stats{});
    require(s.count == value_count && std::abs(s.sum - sum) <= 1e-9 * std::abs(sum),
            "stats sum" + at);
    const auto m = strata::reduce(ex, data().mapped(), strata::kernels::Stats{});
    require(m.count == value_count && std::abs(m.sum - sum) <= 1e-9 * std::abs(sum),
            "mapped stats" + at);
    const auto h =
        strata::reduce(ex, data().resident(), strata::kernels::Histogram(hist_low, hist_high, hist_bins));
    require(h.total() == value_count, "histogram total" + at);
    require(strata::reduce(ex, data().resident(), count_above()).count == above, "count_if" + at);
    const auto [one_s, one_h, one_n] = analysis_pass(ex);
    require(std::memcmp(&one_s, &s, sizeof s) == 0 && one_h == h && one_n.count == above,
            "one-pass analysis" + at);
  }
  // One stencil5 call over the whole grid, checked at a few interior points against the formula.
  const auto in = data().grid_in();
  const auto out = data().grid_out();
  strata::kernels::stencil5(in, out, grid_cols, 1, grid_rows - 1, stencil_alpha);
  for (const std::size_t i : {std::size_t{1}, grid_rows / 2, grid_rows - 2}) {
    for (const std::size_t j : {std::size_t{1}, grid_cols / 3, grid_cols - 2}) {
      const std::size_t c = i * grid_cols + j;
      const double want = in[c] + stencil_alpha * (in[c - grid_cols] + in[c + grid_cols] +
                                                   in[c - 1] + in[c + 1] - 4 * in[c]);
      require(std::abs(out[c] - want) <= 1e-12 * std::abs(want), "stencil5 point");
    }
  }
}

}  // namespace
}  // namespace strata::bench::kernels

int main(int argc, char** argv) {
  using namespace strata::bench::kernels;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    data();
    check_results();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_bench_kernels: %s\n", e.what());
    return 1;
  }
  benchmark::AddCustomContext("kernels_value_bytes", std::to_string(value_bytes));
  benchmark::AddCustomContext("kernels_stencil_grid",
                              std::to_string(grid_rows) + " x " + std::to_string(grid_cols));
  benchmark::AddCustomContext("kernels_all_threads", "2");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
