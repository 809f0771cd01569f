// SPDX-License-Identifier: Apache-2.0
// The analysis job's guarantee under mpiexec with 1, 2 and 4 ranks: every rank reduces its own
// partition on the Executor, results merge across ranks, and the merged statistics, histogram and
// threshold count equal a scalar recomputation over the whole file (counts and bins exactly,
// floating statistics to 1e-12 relative) — so they agree with each other whatever the rank count.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <strata/strata.hpp>

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
  if (runtime.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  failed = runtime.mpi().allreduce_max(std::int64_t{failed}) != 0;
  runtime.mpi().barrier();
  if (runtime.rank() == 0) std::filesystem::remove(dataset_path());
  return failed;
}
