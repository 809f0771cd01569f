// SPDX-License-Identifier: Apache-2.0
// The analysis job's guarantee under mpiexec with 1, 2 and 4 ranks: every rank reduces its own
// partition on the Executor, results merge across ranks, and the merged statistics, histogram and
// threshold count equal a scalar recomputation over the whole file (counts and bins exactly,
// floating statistics to 1e-12 relative) — so they agree with each other whatever the rank count;
// and the statistics' edges (no values, only NaNs, overflow, infinities, exact int64) hold
// after the merge across threads and ranks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <strata/strata.hpp>
#include <vector>

#include "common/mpi_test_main.hpp"

namespace {

strata::Runtime* the_runtime = nullptr;
strata::Runtime& rt() { return *the_runtime; }

// One dataset for the whole job, written by rank 0 before the tests run (its name agreed by all
// ranks in main). The seed and odd size are fixed, so every rank count analyses the same values.
std::string the_dataset;
const std::string& dataset_path() { return the_dataset; }

// Scalar references computed here, in long double, straight from the file's bytes.
struct Reference {
  std::uint64_t count = 0;
  long double sum = 0, mean = 0, m2 = 0;
  double min = INFINITY, max = -INFINITY;
  std::vector<std::uint64_t> bins;
  std::uint64_t under = 0, over = 0, above = 0;
};

Reference reference(double low, double high, std::size_t nbins, double threshold) {
  auto f = strata::io::StrataFile::open(dataset_path());
  const auto& a = f.array("values");
  std::vector<double> v(a.data_bytes / 8);
  f.read(a, 0, std::as_writable_bytes(std::span(v)));
  Reference r;
  r.bins.assign(nbins, 0);
  for (double x : v) {
    ++r.count;
    r.sum += x;
    r.min = std::min(r.min, x);
    r.max = std::max(r.max, x);
    if (x > threshold) ++r.above;
    if (x < low) {
      ++r.under;
    } else if (x >= high) {
      ++r.over;
    } else {
      auto b = static_cast<std::size_t>(std::floor((x - low) * static_cast<double>(nbins) / (high - low)));
      ++r.bins[std::min(b, nbins - 1)];
    }
  }
  r.mean = r.sum / r.count;
  for (double x : v) r.m2 += (x - r.mean) * (x - r.mean);
  return r;
}

using CountAbove = strata::kernels::CountIf<double>;
constexpr auto kGreater = strata::kernels::Compare::greater;

// Merged statistics, histogram and count over all ranks equal the scalar recomputation.
TEST(AnalysisMpi, MergedResultsMatchScalarRecomputation) {
  strata::Executor ex(rt());
  auto part = strata::io::Dataset::open(dataset_path()).partition(rt().rank(), rt().size());
  auto values = part.as<double>();
  auto stats = rt().allreduce(strata::reduce(ex, values, strata::kernels::Stats{}));
  auto hist = rt().allreduce(strata::reduce(ex, values, strata::kernels::Histogram(10.0, 90.0, 37)));
  auto above =
      rt().mpi().allreduce_sum(strata::reduce(ex, values, CountAbove(kGreater, 75.0)).count);

  Reference ref = reference(10.0, 90.0, 37, 75.0);
  EXPECT_EQ(stats.count, ref.count);
  EXPECT_EQ(stats.min, ref.min);
  EXPECT_EQ(stats.max, ref.max);
  EXPECT_NEAR(stats.sum, static_cast<double>(ref.sum), 1e-12 * std::fabs(static_cast<double>(ref.sum)));
  EXPECT_NEAR(stats.mean, static_cast<double>(ref.mean), 1e-12 * std::fabs(static_cast<double>(ref.mean)));
  EXPECT_NEAR(stats.m2, static_cast<double>(ref.m2), 1e-12 * static_cast<double>(ref.m2));
  EXPECT_EQ(hist.counts(), ref.bins);
  EXPECT_EQ(hist.underflow(), ref.under);
  EXPECT_EQ(hist.overflow(), ref.over);
  EXPECT_EQ(above, ref.above);
}

// Proves one combined pass (statistics, histogram, count in one verified pass over each rank's
// partition), merged across ranks, gives each member the bits of its own pass merged alone — the
// statistics bit for bit — and the scalar recomputation's counts, with 1, 2 and 4 ranks.
TEST(AnalysisMpi, CombinedPassMergesAsEachAlone) {
  strata::Executor ex(rt());
  // Each pass opens the dataset afresh, so each one verifies its chunks as it reads them.
  auto fresh_part = [] {
    return strata::io::Dataset::open(dataset_path()).partition(rt().rank(), rt().size());
  };
  const strata::kernels::Histogram bins(10.0, 90.0, 37);
  auto [stats, hist, above] = rt().allreduce(strata::reduce<double>(
      ex, fresh_part(),
      strata::combine(strata::kernels::Stats{}, bins, CountAbove(kGreater, 75.0))));

  const auto stats_alone =
      rt().allreduce(strata::reduce<double>(ex, fresh_part(), strata::kernels::Stats{}));
  const auto hist_alone = rt().allreduce(strata::reduce<double>(ex, fresh_part(), bins));
  const auto above_alone =
      rt().allreduce(strata::reduce<double>(ex, fresh_part(), CountAbove(kGreater, 75.0)));
  EXPECT_EQ(std::memcmp(&stats, &stats_alone, sizeof stats), 0);
  EXPECT_EQ(hist, hist_alone);
  EXPECT_EQ(above.count, above_alone.count);

  Reference ref = reference(10.0, 90.0, 37, 75.0);
  EXPECT_EQ(stats.count, ref.count);
  EXPECT_EQ(hist.counts(), ref.bins);
  EXPECT_EQ(above.count, ref.above);
}

// Every rank holds the same merged result, bit for bit (merging is in rank order everywhere).
TEST(AnalysisMpi, EveryRankHoldsTheSameResult) {
  strata::Executor ex(rt());
  auto part = strata::io::Dataset::open(dataset_path()).partition(rt().rank(), rt().size());
  auto stats = rt().allreduce(strata::reduce(ex, part.as<double>(), strata::kernels::Stats{}));
  double mine[3] = {stats.sum, stats.mean, stats.m2};
  for (double v : mine) {
    EXPECT_EQ(rt().mpi().allreduce_min(v), v);
    EXPECT_EQ(rt().mpi().allreduce_max(v), v);
  }
}

// This rank's share of `all` (contiguous, in rank order; empty on some ranks when all is short),
// reduced on an Executor with `threads` threads and merged across ranks.
template <typename T>
strata::kernels::StatsSummary edge_summary(const std::vector<T>& all, unsigned threads) {
  const std::size_t first = all.size() * static_cast<std::size_t>(rt().rank()) / rt().size();
  const std::size_t last = all.size() * static_cast<std::size_t>(rt().rank() + 1) / rt().size();
  strata::Executor ex(rt(), {.threads = threads});
  const std::span<const T> mine(all.data() + first, last - first);
  return rt().allreduce(strata::reduce(ex, mine, strata::kernels::Stats{})).summary();
}

// Proves each edge of issue 21 holds after the merge across threads (1, 2) and ranks (1, 2, 4),
// against results derived by hand: no values and only NaNs give no mean, variance, min or max;
// [1e308, 1e308, -1e308] has sum 1e308 and variance inf; +inf is the max and the sum; int64
// [2^62 + 1, 2^62 + 3] has distinct exact min and max and variance 1; 3000 values 2^62 + i sum exactly to
// 3000 * 2^62 + 2999 * 3000 / 2 = 13835058055282163712000 + 4498500.
TEST(AnalysisMpi, EdgeDataHoldsAtEveryRankAndThreadCount) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  constexpr std::int64_t two62 = std::int64_t{1} << 62;
  std::vector<std::int64_t> many(3000);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = two62 + static_cast<std::int64_t>(i);
  for (unsigned threads : {1u, 2u}) {
    SCOPED_TRACE(testing::Message() << "threads=" << threads << " ranks=" << rt().size());
    for (const auto& r : {edge_summary(std::vector<double>{}, threads),
                          edge_summary(std::vector<double>(10, std::nan("")), threads)}) {
      EXPECT_EQ(r.count, 0u);
      EXPECT_FALSE(r.mean.has_value());
      EXPECT_FALSE(r.variance.has_value());
      EXPECT_FALSE(r.min.has_value());
      EXPECT_FALSE(r.max.has_value());
    }
    EXPECT_EQ(edge_summary(std::vector<double>(10, std::nan("")), threads).nan_count, 10u);

    const auto big = edge_summary(std::vector<double>{1e308, 1e308, -1e308}, threads);
    EXPECT_EQ(big.sum, 1e308);
    EXPECT_DOUBLE_EQ(big.mean.value(), 1e308 / 3.0);
    EXPECT_EQ(big.variance, inf);

    const auto with_inf = edge_summary(std::vector<double>{1.0, inf, 2.0, 3.0}, threads);
    EXPECT_EQ(with_inf.max, inf);
    EXPECT_EQ(with_inf.min, 1.0);
    EXPECT_EQ(with_inf.sum, inf);
    EXPECT_EQ(with_inf.pos_inf_count, 1u);

    const auto pair = edge_summary(std::vector<std::int64_t>{two62 + 1, two62 + 3}, threads);
    EXPECT_EQ(pair.integer_min, two62 + 1);
    EXPECT_EQ(pair.integer_max, two62 + 3);
    EXPECT_EQ(pair.variance, 1.0);
    EXPECT_EQ(strata::kernels::to_decimal(pair.integer_sum.value()), "9223372036854775812");

    const auto sum = edge_summary(many, threads);
    EXPECT_EQ(strata::kernels::to_decimal(sum.integer_sum.value()), "13835058055282168210500");
  }
}

// Proves rt.allreduce of real partial statistics (each rank's share of values whose merges round
// differently in almost any order) has the bits of the ranks' balanced tree evaluated here from
// the gathered partials — [lo, hi) split at lo + (hi - lo) / 2, left absorbing right — on every
// rank, with 1, 2 and 4 ranks (at 4 ranks a rank-order fold would be another evaluation).
TEST(AnalysisMpi, MergeIsTheRanksTreeOfThePartials) {
  std::vector<double> all(1 << 14);
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  for (double& v : all) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double unit = static_cast<double>(state >> 11) * 0x1p-53;
    // Magnitudes from 2^-20 to 2^20 around an offset: rounding at every merge.
    v = 1e3 + std::ldexp(unit - 0.5, static_cast<int>((state >> 3) % 41) - 20);
  }
  strata::Executor ex(rt(), {.threads = 1});
  const std::size_t share = all.size() / static_cast<std::size_t>(rt().size());
  const strata::kernels::Stats mine = strata::reduce(
      ex,
      std::span<const double>(all).subspan(share * static_cast<std::size_t>(rt().rank()), share),
      strata::kernels::Stats{});
  const strata::kernels::Stats merged = rt().allreduce(mine);
  const std::vector<strata::kernels::Stats> partials = rt().mpi().allgather(mine);
  auto tree = [&](auto& self, std::size_t lo, std::size_t hi) -> strata::kernels::Stats {
    if (hi - lo == 1) return partials[lo];
    const std::size_t mid = lo + (hi - lo) / 2;
    strata::kernels::Stats left = self(self, lo, mid);
    left.merge(self(self, mid, hi));
    return left;
  };
  const strata::kernels::Stats expected = tree(tree, 0, partials.size());
  EXPECT_EQ(std::memcmp(&merged, &expected, sizeof expected), 0)
      << "sum " << merged.sum << " vs " << expected.sum << ", m2 " << merged.m2 << " vs "
      << expected.m2;
  EXPECT_EQ(merged.count, all.size());
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  strata::Runtime runtime(argc, argv, {.install_stop_signals = false});
  the_runtime = &runtime;
  the_dataset = (std::filesystem::temp_directory_path() /
                 ("strata-analysis-mpi-" + std::to_string(runtime.mpi().allreduce_max(std::int64_t{getpid()}))))
                    .string();
  if (runtime.rank() == 0) {
    strata::io::generate_dataset(dataset_path(), {.kind = strata::io::SyntheticKind::normal,
                                                  .bytes = 8 * 1000003, .seed = 11, .chunk_bytes = 64 << 10});
  }
  runtime.mpi().barrier();
  const int failed = strata::test::run_all_tests_on_every_rank(runtime);
  if (runtime.rank() == 0) std::filesystem::remove(dataset_path());
  return failed;
}
