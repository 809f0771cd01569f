// SPDX-License-Identifier: Apache-2.0
// The analysis merge at n ranks: rt.allreduce of a kernels::Stats and of a 64-bin Histogram, as
// examples/analysis merges its results (a fixed tree over the ranks: log2 n messages and merges on
// the longest path, then a broadcast), against one MPI_Allreduce of the same number of bytes (the
// least a merge of that much data can cost on this MPI); and merge_allgather_fold, how
// rt.allreduce merged before the tree — every rank allgathers every partial and folds them all in
// rank order — against the same baseline, so one run shows both.
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "common/run_settings.hpp"
#include "scale_settings.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"

namespace strata::bench::scale {
namespace {

// A rank's partial results, as a reduce over its share would leave them.
struct Partials {
  kernels::Stats stats;
  kernels::Histogram histogram{0.0, 1.0, histogram_bins};
};

Partials partials_of_rank(int rank) {
  std::vector<double> values(4096);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] =
        static_cast<double>((i * 2654435761U + static_cast<std::size_t>(rank)) % 1000) / 1000.0;
  }
  Partials p;
  p.stats.add(std::span<const double>(values));
  p.histogram.add(std::span<const double>(values));
  return p;
}

// The bytes the merge moves from each rank: the Stats and the histogram's serialized image.
std::size_t merged_bytes(const Partials& p) {
  return sizeof(kernels::Stats) + p.histogram.serialize().size();
}

void merge_strata(benchmark::State& state, const std::string& baseline) {
  Runtime& rt = runtime();
  const Partials mine = partials_of_rank(rt.rank());
  rt.mpi().barrier();
  for (auto _ : state) {
    kernels::Stats s = rt.allreduce(mine.stats);
    kernels::Histogram h = rt.allreduce(mine.histogram);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_rank"] = static_cast<double>(merged_bytes(mine));
  label_ratio(state, baseline.c_str(), false);
}

// The merge before the tree: an allgather of each result's bytes, then a fold of all n partials
// in rank order on every rank.
void merge_allgather_fold(benchmark::State& state, const std::string& baseline) {
  Runtime& rt = runtime();
  const Partials mine = partials_of_rank(rt.rank());
  const auto* first = reinterpret_cast<const std::byte*>(&mine.stats);
  const std::vector<std::byte> stats_bytes(first, first + sizeof mine.stats);
  const std::vector<std::byte> histogram_bytes = mine.histogram.serialize();
  rt.mpi().barrier();
  for (auto _ : state) {
    const auto stats_all = rt.mpi().allgather_bytes(stats_bytes);
    kernels::Stats s;
    std::memcpy(&s, stats_all[0].data(), sizeof s);
    for (std::size_t r = 1; r < stats_all.size(); ++r) {
      kernels::Stats other;
      std::memcpy(&other, stats_all[r].data(), sizeof other);
      s.merge(other);
    }
    const auto histogram_all = rt.mpi().allgather_bytes(histogram_bytes);
    kernels::Histogram h = kernels::Histogram::deserialize(histogram_all[0]);
    for (std::size_t r = 1; r < histogram_all.size(); ++r) {
      h.merge(kernels::Histogram::deserialize(histogram_all[r]));
    }
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_rank"] = static_cast<double>(merged_bytes(mine));
  label_ratio(state, baseline.c_str(), false);
}

void merge_mpi_allreduce(benchmark::State& state) {
  Runtime& rt = runtime();
  const Partials mine = partials_of_rank(rt.rank());
  // Whole u64 words, summed: the same bytes as the merge, through MPI's own reduction.
  const std::size_t words = (merged_bytes(mine) + 7) / 8;
  std::vector<std::uint64_t> send(words, 1), receive(words);
  rt.mpi().barrier();
  for (auto _ : state) {
    MPI_Allreduce(send.data(), receive.data(), static_cast<int>(words), MPI_UINT64_T, MPI_SUM,
                  MPI_COMM_WORLD);
    benchmark::DoNotOptimize(receive.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_rank"] = static_cast<double>(words * 8);
  label_ratio(state, "", true);
}

}  // namespace

void register_merge_cases(int ranks) {
  const std::string baseline = timed_name("merge_mpi_allreduce", ranks, merge_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(at_ranks("merge_mpi_allreduce", ranks).c_str(),
                                                    merge_mpi_allreduce),
                       merge_iterations);
  apply_timed_settings(
      benchmark::RegisterBenchmark(at_ranks("merge_strata", ranks).c_str(),
                                   [baseline](benchmark::State& s) { merge_strata(s, baseline); }),
      merge_iterations);
  apply_timed_settings(benchmark::RegisterBenchmark(
                           at_ranks("merge_allgather_fold", ranks).c_str(),
                           [baseline](benchmark::State& s) { merge_allgather_fold(s, baseline); }),
                       merge_iterations);
}

}  // namespace strata::bench::scale
