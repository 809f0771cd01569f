// SPDX-License-Identifier: Apache-2.0
// Independent limits that do not lean on Google Benchmark's multi-thread accounting: one OpenMP
// parallel region over all the threads, timed from before it opens to after its threads join, so
// bytes ÷ that wall time is what a job with that many threads gets. bench/limits and bench/kernels
// both run them (a ratio needs its baseline in the same binary), so the loops live here, once.
#pragma once

#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/read_loop.hpp"

namespace strata::bench {

// The uniform bins of a plain histogram: [low, high) in `bins` bins, plus an underflow and an
// overflow tally (counts has bins + 2 entries: underflow first, overflow last).
struct HistogramBins {
  double low = 0.0;
  double high = 100.0;
  std::size_t bins = 64;
};

// The textbook histogram step: scale, truncate, count. NaN lands in underflow (no comparison holds).
[[gnu::noinline]] inline void histogram_slice(std::span<const double> x, const HistogramBins& h,
                                              std::uint64_t* counts) noexcept {
  const double scale = static_cast<double>(h.bins) / (h.high - h.low);
  for (const double v : x) {
    std::size_t bin = 0;
    if (v >= h.high) {
      bin = h.bins + 1;
    } else if (v >= h.low) {
      bin = 1 + std::min(h.bins - 1, static_cast<std::size_t>((v - h.low) * scale));
    }
    ++counts[bin];
  }
}

// Wall seconds of one parallel region in which each of `threads` threads sums its contiguous share
// of `x` with the read loop (sum_doubles); the total goes to `sink` so no sum can be dropped.
inline double timed_parallel_sum(std::span<const double> x, int threads, double& sink) {
  const auto start = std::chrono::steady_clock::now();
  double total = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    const auto n = static_cast<std::size_t>(omp_get_num_threads());
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t begin = x.size() * t / n;
    const std::size_t end = x.size() * (t + 1) / n;
    total += sum_doubles(x.subspan(begin, end - begin));
  }
  const auto stop = std::chrono::steady_clock::now();
  sink += total;
  return std::chrono::duration<double>(stop - start).count();
}

// Wall seconds of one parallel region in which each thread counts its contiguous share of `x`
// into its own tallies (cache-line padded apart), merged into `counts` (bins + 2 entries, added
// to) before the region closes: the plain OpenMP histogram a scheduler's histogram is held to.
inline double timed_parallel_histogram(std::span<const double> x, int threads,
                                       const HistogramBins& h, std::vector<std::uint64_t>& counts) {
  counts.resize(h.bins + 2);
  // Each thread's tallies start a fresh 64-byte line, so no two threads share one.
  const std::size_t stride = (h.bins + 2 + 7) / 8 * 8;
  std::vector<std::uint64_t> own(stride * static_cast<std::size_t>(threads) + 8);
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
  {
    const auto n = static_cast<std::size_t>(omp_get_num_threads());
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    std::uint64_t* mine = own.data() + stride * t;
    std::fill(mine, mine + h.bins + 2, 0);
    const std::size_t begin = x.size() * t / n;
    const std::size_t end = x.size() * (t + 1) / n;
    histogram_slice(x.subspan(begin, end - begin), h, mine);
#pragma omp critical
    for (std::size_t b = 0; b < h.bins + 2; ++b) counts[b] += mine[b];
  }
  const auto stop = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(stop - start).count();
}

// Runs `timed` (a call returning the wall seconds of one pass over `bytes` bytes) as a manual-time
// case: Google Benchmark's rate is then bytes ÷ the region's wall time, whatever the thread count.
template <class Timed>
void run_timed_region(benchmark::State& state, std::size_t bytes, Timed timed) {
  for (auto _ : state) state.SetIterationTime(timed());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.counters["threads"] = static_cast<double>(state.range(0));
}

// The read limit as a case: timed_parallel_sum over `x` at state.range(0) threads. The caller labels.
inline void read_limit_case(benchmark::State& state, std::span<const double> x) {
  double sink = 0.0;
  run_timed_region(state, x.size_bytes(), [&] {
    return timed_parallel_sum(x, static_cast<int>(state.range(0)), sink);
  });
  benchmark::DoNotOptimize(sink);
}

// The plain OpenMP histogram as a case, the same way.
inline void histogram_limit_case(benchmark::State& state, std::span<const double> x,
                                 const HistogramBins& h) {
  std::vector<std::uint64_t> counts;
  run_timed_region(state, x.size_bytes(), [&] {
    return timed_parallel_histogram(x, static_cast<int>(state.range(0)), h, counts);
  });
  benchmark::DoNotOptimize(counts.data());
}

}  // namespace strata::bench
