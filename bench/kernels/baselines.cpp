// SPDX-License-Identifier: Apache-2.0
// The loops strata is compared with besides the independent limits (openmp_limits.cpp): bench/limits'
// read loop and memcpy at one and two threads, and the statistics and histogram
// written as a naive scalar loop, an OpenMP loop and a plain tbb::parallel_reduce, no placement.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_reduce.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>

#include "common/read_loop.hpp"
#include "common/thread_slice.hpp"
#include "kernels_settings.hpp"
#include "suite_data.hpp"

namespace strata::bench::kernels {
namespace {

std::int64_t bytes_of(std::span<const double> x) { return static_cast<std::int64_t>(x.size_bytes()); }

// What the naive, OpenMP and TBB loops compute: the moments a statistics pass needs (count, sum,
// sum of squares, min, max), the textbook way — no Welford update, no NaN count.
struct moments {
  double sum = 0.0;
  double sum_squares = 0.0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
};

[[gnu::noinline]] moments naive_moments(std::span<const double> x) noexcept {
  moments m;
  for (const double v : x) {
    m.sum += v;
    m.sum_squares += v * v;
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
  }
  return m;
}

void read_sum(benchmark::State& state) {
  const auto x = thread_slice(data().resident_span(), state);
  for (auto _ : state) benchmark::DoNotOptimize(sum_doubles(x));  // bench/common/read_loop.hpp
  state.SetBytesProcessed(state.iterations() * bytes_of(x));
  // Against the independent limit: at two threads this shows what Google Benchmark's summing of
  // per-thread rates makes of the same loop.
  label_vs(state, read_limit_name(state.threads()));
}
BENCHMARK(read_sum)->Apply(apply_run_settings)->Threads(1)->Threads(2);

// STREAM counts a copy as bytes read plus bytes written, and so does the stencil case.
void memcpy_grid(benchmark::State& state) {
  const auto src = thread_slice(data().grid_in(), state);
  const auto dst = thread_slice(data().grid_out(), state);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size_bytes());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * bytes_of(src));
  label_baseline(state);
}
BENCHMARK(memcpy_grid)->Name("memcpy")->Apply(apply_run_settings)->Threads(1)->Threads(2);

void stats_scalar(benchmark::State& state) {
  const auto x = data().resident_span();
  for (auto _ : state) benchmark::DoNotOptimize(naive_moments(x));
  state.SetBytesProcessed(state.iterations() * bytes_of(x));
  label_vs(state, read_limit_name(1));
}
BENCHMARK(stats_scalar)->Apply(apply_run_settings);

[[gnu::noinline]] moments openmp_moments(std::span<const double> x) noexcept {
  double sum = 0.0, sum_squares = 0.0;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  const auto n = static_cast<std::int64_t>(x.size());
  const double* p = x.data();
#pragma omp parallel for schedule(static) reduction(+ : sum, sum_squares) reduction(min : lo) \
    reduction(max : hi)
  for (std::int64_t i = 0; i < n; ++i) {
    sum += p[i];
    sum_squares += p[i] * p[i];
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  return {sum, sum_squares, lo, hi};
}

// All threads (OpenMP's default: one per CPU, two here).
void stats_openmp(benchmark::State& state) {
  const auto x = data().resident_span();
  for (auto _ : state) benchmark::DoNotOptimize(openmp_moments(x));
  state.SetBytesProcessed(state.iterations() * bytes_of(x));
  label_vs(state, read_limit_name(2));
}
BENCHMARK(stats_openmp)->Apply(apply_run_settings);

moments merge(moments a, const moments& b) noexcept {
  a.sum += b.sum;
  a.sum_squares += b.sum_squares;
  a.min = std::min(a.min, b.min);
  a.max = std::max(a.max, b.max);
  return a;
}

// All threads of oneTBB's default arena, auto_partitioner, no placement and no pinning.
void stats_tbb(benchmark::State& state) {
  const auto x = data().resident_span();
  for (auto _ : state) {
    benchmark::DoNotOptimize(oneapi::tbb::parallel_reduce(
        oneapi::tbb::blocked_range<std::size_t>(0, x.size(), 1 << 16), moments{},
        [x](const oneapi::tbb::blocked_range<std::size_t>& r, moments m) {
          return merge(m, naive_moments(x.subspan(r.begin(), r.size())));
        },
        merge));
  }
  state.SetBytesProcessed(state.iterations() * bytes_of(x));
  label_vs(state, read_limit_name(2));
}
BENCHMARK(stats_tbb)->Apply(apply_run_settings);

// The textbook histogram: scale, truncate, count; out-of-range values go to the end bins' tallies.
[[gnu::noinline]] void naive_histogram(std::span<const double> x,
                                       std::array<std::uint64_t, hist_bins + 2>& counts) noexcept {
  const double scale = static_cast<double>(hist_bins) / (hist_high - hist_low);
  for (const double v : x) {
    std::size_t bin = 0;  // underflow
    if (v >= hist_high) {
      bin = hist_bins + 1;
    } else if (v >= hist_low) {
      bin = 1 + std::min(hist_bins - 1, static_cast<std::size_t>((v - hist_low) * scale));
    }
    ++counts[bin];
  }
}

void histogram_scalar(benchmark::State& state) {
  const auto x = data().resident_span();
  std::array<std::uint64_t, hist_bins + 2> counts{};
  for (auto _ : state) {
    naive_histogram(x, counts);
    benchmark::DoNotOptimize(counts);
  }
  state.SetBytesProcessed(state.iterations() * bytes_of(x));
  label_vs(state, read_limit_name(1));
}
BENCHMARK(histogram_scalar)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::kernels
