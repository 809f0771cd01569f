// SPDX-License-Identifier: Apache-2.0
// strata's kernels run by strata's scheduler on its Executor (1 and 2 threads): statistics,
// histogram and count_if through strata::reduce over the resident Array (and statistics over the
// mapped file), the three at once in one pass (strata::combine) against three separate passes,
// stencil5 rows in the Executor's arena. Each names its baseline (kernels_settings.hpp).
#include <benchmark/benchmark.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "kernels_settings.hpp"
#include "strata/kernels/filter.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/kernels/stencil.hpp"
#include "strata/scheduler/combine.hpp"
#include "strata/scheduler/parallel.hpp"
#include "suite_data.hpp"

namespace strata::bench::kernels {
namespace {

namespace k = strata::kernels;

unsigned workers(const benchmark::State& state) { return static_cast<unsigned>(state.range(0)); }

std::int64_t value_bytes_per_pass() { return static_cast<std::int64_t>(value_bytes); }

// Registers `fn` as "<name>/workers:<n>" for each n in `counts`, with the suite's settings.
template <class F>
void register_workers(const char* name, F fn, std::initializer_list<int> counts) {
  auto* b = benchmark::RegisterBenchmark(name, fn)->ArgName("workers");
  for (const int n : counts) b->Arg(n);
  apply_run_settings(b);
}

void stats_strata(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) benchmark::DoNotOptimize(strata::reduce(ex, data().resident(), k::Stats{}));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, read_limit_name(static_cast<int>(workers(state))));
}

// The same over the mapped `.strata` file (page cache, zero-copy), against the resident read loop.
void stats_strata_mapped(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) benchmark::DoNotOptimize(strata::reduce(ex, data().mapped(), k::Stats{}));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, read_limit_name(static_cast<int>(workers(state))));
}

k::Histogram histogram_pass(Executor& ex) {
  return strata::reduce(ex, data().resident(), k::Histogram(hist_low, hist_high, hist_bins));
}

void histogram_strata(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) benchmark::DoNotOptimize(histogram_pass(ex));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, histogram_limit_name(static_cast<int>(workers(state))));
}

// The very same pass as histogram_strata/workers:2, labelled against workers:1: the scaling ratio.
void histogram_scaling(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) benchmark::DoNotOptimize(histogram_pass(ex));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, full_name("histogram_strata/workers:1"));
}

void count_if_strata(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state)
    benchmark::DoNotOptimize(strata::reduce(ex, data().resident(), count_above()));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, read_limit_name(static_cast<int>(workers(state))));
}

// The analysis job's three results (examples/analysis): bytes are the data analysed, once per
// iteration, so GB/s is the job's speed whether it reads the data once or three times.
void analysis_one_pass(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) benchmark::DoNotOptimize(analysis_pass(ex));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, read_limit_name(static_cast<int>(workers(state))));
}

void analysis_separate_passes(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(strata::reduce(ex, data().resident(), k::Stats{}));
    benchmark::DoNotOptimize(histogram_pass(ex));
    benchmark::DoNotOptimize(strata::reduce(ex, data().resident(), count_above()));
  }
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, read_limit_name(static_cast<int>(workers(state))));
}

// The very same pass as analysis_one_pass/workers:2, labelled against the separate passes: what
// reading once buys.
void analysis_one_pass_vs_separate(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) benchmark::DoNotOptimize(analysis_pass(ex));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, full_name("analysis_separate_passes/workers:" + std::to_string(workers(state))));
}

// Interior rows in blocks of rows_per_task, run by the Executor's arena (one node here; the grid
// is one block). Bytes as STREAM's copy: the grid read once and written once.
constexpr std::size_t rows_per_task = 16;

void stencil5_strata(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  const auto in = data().grid_in();
  const auto out = data().grid_out();
  const std::array<unsigned, 1> nodes{0};
  for (auto _ : state) {
    ex.run_on_nodes(nodes, [&](std::size_t) {
      oneapi::tbb::parallel_for(
          oneapi::tbb::blocked_range<std::size_t>(1, grid_rows - 1, rows_per_task),
          [&](const oneapi::tbb::blocked_range<std::size_t>& r) {
            k::stencil5(in, out, grid_cols, r.begin(), r.end(), stencil_alpha);
          });
    });
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * value_bytes_per_pass());
  label_vs(state, memcpy_name(static_cast<int>(workers(state))));
}

// The kernel alone: one stencil5 call over every interior row on the calling thread, no Executor,
// to tell the kernel's speed from what running it in blocks on the scheduler adds or costs.
void stencil5_single_call(benchmark::State& state) {
  const auto in = data().grid_in();
  const auto out = data().grid_out();
  for (auto _ : state) {
    k::stencil5(in, out, grid_cols, 1, grid_rows - 1, stencil_alpha);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * value_bytes_per_pass());
  label_vs(state, memcpy_name(1));
}
BENCHMARK(stencil5_single_call)->Apply(apply_run_settings);

// The same pass again, labelled against the plain fused OpenMP loop (analysis_baseline.cpp).
void analysis_one_pass_vs_openmp(benchmark::State& state) {
  Executor& ex = data().executor(workers(state));
  for (auto _ : state) benchmark::DoNotOptimize(analysis_pass(ex));
  state.SetBytesProcessed(state.iterations() * value_bytes_per_pass());
  label_vs(state, full_name("analysis_openmp"));
}

[[maybe_unused]] const bool registered = [] {
  register_workers("stats_strata", stats_strata, {1, 2});
  register_workers("stats_strata_mapped", stats_strata_mapped, {2});
  register_workers("histogram_strata", histogram_strata, {1, 2});
  register_workers("histogram_scaling", histogram_scaling, {2});
  register_workers("count_if_strata", count_if_strata, {1, 2});
  register_workers("analysis_one_pass", analysis_one_pass, {1, 2});
  register_workers("analysis_separate_passes", analysis_separate_passes, {1, 2});
  register_workers("analysis_one_pass_vs_separate", analysis_one_pass_vs_separate, {2});
  register_workers("analysis_one_pass_vs_openmp", analysis_one_pass_vs_openmp, {2});
  register_workers("stencil5_strata", stencil5_strata, {1, 2});
  return true;
}();

}  // namespace

analysis_results analysis_pass(Executor& ex) {
  return strata::reduce(
      ex, data().resident(),
      strata::combine(k::Stats{}, k::Histogram(hist_low, hist_high, hist_bins), count_above()));
}

}  // namespace strata::bench::kernels
