// SPDX-License-Identifier: Apache-2.0
// Reading the dataset once it is where a job wants it. Random 8-byte reads of the whole dataset
// (larger than the TLB maps) in a plain mapping with 4 KiB pages (the baseline), in the resident
// copy's 2 MiB pages, and in strata's own mapping (whatever pages the kernel gave it). A sequential
// pass, strata::reduce of Stats on the executor, over the mapped partition (the baseline) and the
// resident copy.
#include <benchmark/benchmark.h>

#include <chrono>
#include <numeric>
#include <span>

#include "resident_settings.hpp"
#include "resident_suite.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::bench::resident {
namespace {

using Clock = std::chrono::steady_clock;

// One pass of the random reads over `values`; the loads are independent (only the adds chain),
// so the core overlaps their cache and TLB misses as any gathering loop would.
void random_pass(benchmark::State& state, std::span<const double> values) {
  const std::vector<std::uint64_t>& elements = suite().random_elements();
  for (auto _ : state) {
    const auto start = Clock::now();
    const double sum =
        std::accumulate(elements.begin(), elements.end(), 0.0,
                        [values](double s, std::uint64_t e) { return s + values[e]; });
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    if (sum != suite().random_sum()) {
      state.SkipWithError("the random reads found another sum: wrong bytes");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * elements.size()));
}

void random_mapped_4k(benchmark::State& state) {
  label(state, random_baseline, true);
  suite().warm_all();
  random_pass(state, suite().mapped_4k_values());
}

void random_resident_2m(benchmark::State& state) {
  label(state, random_baseline, false);
  random_pass(state, suite().resident_values());
}

void random_mapped_strata(benchmark::State& state) {
  label(state, random_baseline, false);
  suite().warm_all();
  const auto* base = reinterpret_cast<const double*>(suite().mapped().partition().mapped_address());
  random_pass(state, {base, suite().dataset_bytes() / sizeof(double)});
}

void scan(benchmark::State& state, const io::PartitionData& data) {
  try {
    for (auto _ : state) {
      const auto start = Clock::now();
      const kernels::Stats s = strata::reduce<double>(suite().executor(), data, kernels::Stats{});
      state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
      if (s.count != suite().dataset_bytes() / sizeof(double)) {
        state.SkipWithError("the pass counted another number of values");
        return;
      }
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * suite().dataset_bytes()));
}

// The mapped partition's chunks were verified when the suite warmed it (once per Dataset): the
// pass reads the page cache through strata's mapping, as a second pass of a job would.
void scan_mapped(benchmark::State& state) {
  label(state, scan_baseline, true);
  suite().warm_all();
  scan(state, suite().mapped());
}

void scan_resident(benchmark::State& state) {
  label(state, scan_baseline, false);
  scan(state, suite().resident());
}

BENCHMARK(random_mapped_4k)->Name("random_8b/mapped_4k")->Apply(apply_run_settings);
BENCHMARK(random_resident_2m)->Name("random_8b/resident_2m")->Apply(apply_run_settings);
BENCHMARK(random_mapped_strata)->Name("random_8b/mapped_strata")->Apply(apply_run_settings);
BENCHMARK(scan_mapped)->Name("scan/mapped")->Apply(apply_run_settings);
BENCHMARK(scan_resident)->Name("scan/resident")->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::resident
