// SPDX-License-Identifier: Apache-2.0
// MpiContext under mpiexec with 2 and 4 ranks: job layout, every collective against closed-form
// answers, and merging along the ranks' tree. One MpiContext lives for the whole binary (MPI initialises
// once per process); it is created in main() before the tests and finalized after them.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/cluster/mpi_context.hpp"

namespace {

const strata::MpiContext* the_mpi = nullptr;

const strata::MpiContext& mpi() { return *the_mpi; }

// What the launcher says, independent of the code under test; 1 when started directly.
int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::atoi(text) : fallback;
}

// Rank r contributes the values 10r+1, 10r+2, 10r+3.
struct stats {
  std::int64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  void add(double v) {
    ++count;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  void merge(const stats& other) {
    count += other.count;
    sum += other.sum;
    if (other.min < min) min = other.min;
    if (other.max > max) max = other.max;
  }
};

// Records the order partial results were merged in.
struct merge_trace {
  static constexpr int capacity = 16;
  int ids[capacity] = {};
  int count = 0;
  void merge(const merge_trace& other) {
    for (int i = 0; i < other.count && count < capacity; ++i) ids[count++] = other.ids[i];
  }
};

// Writes the shape of the merge tree: a rank's partial is its number, a merge "(left right)".
struct tree_shape {
  char text[96] = {};
  void merge(const tree_shape& other) {
    char merged[sizeof text];
    std::snprintf(merged, sizeof merged, "(%s %s)", text, other.text);
    std::memcpy(text, merged, sizeof text);
  }
};

// The same as a variable-size result (the serialize/deserialize path).
struct tree_shape_text {
  std::string text;
  void merge(const tree_shape_text& other) { text = "(" + text + " " + other.text + ")"; }
  std::vector<std::byte> serialize() const {
    auto b = std::as_bytes(std::span(text.data(), text.size()));
    return {b.begin(), b.end()};
  }
  static tree_shape_text deserialize(std::span<const std::byte> bytes) {
    return {std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size())};
  }
};

// The merge tree over ranks [0, n), written by hand: [lo, hi) splits at lo + (hi - lo) / 2.
const char* const kTreeShapes[] = {
    "0",
    "(0 1)",
    "(0 (1 2))",
    "((0 1) (2 3))",
    "((0 1) (2 (3 4)))",
    "((0 (1 2)) (3 (4 5)))",
    "((0 (1 2)) ((3 4) (5 6)))",
    "(((0 1) (2 3)) ((4 5) (6 7)))",
};

// A variable-size mergeable result: each rank contributes (rank + 1) copies of its rank.
struct rank_list {
  std::vector<int> ids;
  void merge(const rank_list& other) { ids.insert(ids.end(), other.ids.begin(), other.ids.end()); }
  std::vector<std::byte> serialize() const {
    auto b = std::as_bytes(std::span(ids));
    return {b.begin(), b.end()};
  }
  static rank_list deserialize(std::span<const std::byte> bytes) {
    rank_list r;
    r.ids.resize(bytes.size() / sizeof(int));
    std::memcpy(r.ids.data(), bytes.data(), bytes.size());
    return r;
  }
};

// The job has as many ranks as mpiexec started, and this rank is the one mpiexec assigned.
TEST(MpiContextMpi, SizeAndRankMatchLauncher) {
  EXPECT_EQ(mpi().size(), env_int("OMPI_COMM_WORLD_SIZE", 1));
  EXPECT_EQ(mpi().rank(), env_int("OMPI_COMM_WORLD_RANK", 0));
  EXPECT_GE(mpi().size(), 2) << "run this binary under mpiexec -n 2 or more";
}

// On one machine all ranks share a node: one node, node index 0, local rank = world rank.
// Proves a launched process runs MPI, and so does a duplicate of its context (the checkpointer's
// commit): its gather sees every rank, not only its own bytes as a process without MPI would.
TEST(MpiContextMpi, LaunchedContextAndItsDuplicateUseMpi) {
  EXPECT_TRUE(mpi().uses_mpi());
  const auto copy = mpi().duplicate();
  EXPECT_TRUE(copy->uses_mpi());
  const std::vector<int> ranks = copy->allgather(mpi().rank());
  ASSERT_EQ(ranks.size(), static_cast<std::size_t>(mpi().size()));
  for (int r = 0; r < mpi().size(); ++r) EXPECT_EQ(ranks[static_cast<std::size_t>(r)], r);
}

TEST(MpiContextMpi, OneNodeLayout) {
  EXPECT_EQ(mpi().node_count(), 1);
  EXPECT_EQ(mpi().node_index(), 0);
  EXPECT_EQ(mpi().local_size(), mpi().size());
  EXPECT_EQ(mpi().local_size(), env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1));
  EXPECT_EQ(mpi().local_rank(), env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0));
}

// MPI reports errors as return codes on MPI_COMM_WORLD, and the thread level is what MPI says.
TEST(MpiContextMpi, ErrorsReturnAndThreadLevel) {
  MPI_Errhandler handler = MPI_ERRHANDLER_NULL;
  ASSERT_EQ(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &handler), MPI_SUCCESS);
  EXPECT_EQ(handler, MPI_ERRORS_RETURN);
  MPI_Errhandler_free(&handler);

  int provided = -1;
  ASSERT_EQ(MPI_Query_thread(&provided), MPI_SUCCESS);
  const auto expected = provided == MPI_THREAD_MULTIPLE     ? strata::MpiThreadLevel::multiple
                        : provided == MPI_THREAD_SERIALIZED ? strata::MpiThreadLevel::serialized
                        : provided == MPI_THREAD_FUNNELED   ? strata::MpiThreadLevel::funneled
                                                            : strata::MpiThreadLevel::single;
  EXPECT_EQ(mpi().thread_level(), expected);

  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(mpi().processor_name(), std::string(host));
}

// Sums of rank+1 over n ranks are n(n+1)/2, for double, int64 and uint64.
TEST(MpiContextMpi, AllreduceSum) {
  const int n = mpi().size();
  const int r = mpi().rank();
  const double d = mpi().allreduce_sum(static_cast<double>(r + 1));
  // Large enough to overflow a 32-bit sum: 10^10 per unit.
  const std::int64_t big = mpi().allreduce_sum(std::int64_t{10'000'000'000} * (r + 1));
  const std::uint64_t u = mpi().allreduce_sum(std::uint64_t(r + 1));
  EXPECT_EQ(d, n * (n + 1) / 2.0);
  EXPECT_EQ(big, std::int64_t{10'000'000'000} * n * (n + 1) / 2);
  EXPECT_EQ(u, std::uint64_t(n) * (n + 1) / 2);
}

// Min and max see every rank's value, including negative ones.
TEST(MpiContextMpi, AllreduceMinMax) {
  const int n = mpi().size();
  const int r = mpi().rank();
  const double dmin = mpi().allreduce_min(-1.5 * r);
  const double dmax = mpi().allreduce_max(-1.5 * r);
  const std::int64_t imin = mpi().allreduce_min(std::int64_t{100} - r);
  const std::int64_t imax = mpi().allreduce_max(std::int64_t{-(std::int64_t{1} << 40)} + r);
  EXPECT_EQ(dmin, -1.5 * (n - 1));
  EXPECT_EQ(dmax, 0.0);
  EXPECT_EQ(imin, 100 - (n - 1));
  EXPECT_EQ(imax, -(std::int64_t{1} << 40) + (n - 1));
}

// Logical and/or: false anywhere makes `and` false; true anywhere makes `or` true.
TEST(MpiContextMpi, AllreduceAndOr) {
  const int last = mpi().size() - 1;
  const bool all_true = mpi().allreduce_and(true);
  const bool and_one_false = mpi().allreduce_and(mpi().rank() != last);
  const bool or_one_true = mpi().allreduce_or(mpi().rank() == last);
  const bool or_all_false = mpi().allreduce_or(false);
  EXPECT_TRUE(all_true);
  EXPECT_FALSE(and_one_false);
  EXPECT_TRUE(or_one_true);
  EXPECT_FALSE(or_all_false);
}

// Spans are summed element-wise in place: element i of rank r is r + i.
TEST(MpiContextMpi, AllreduceSpanSums) {
  const int n = mpi().size();
  const int r = mpi().rank();
  constexpr std::size_t length = 1000;
  std::vector<double> d(length);
  std::vector<std::uint64_t> u(length);
  for (std::size_t i = 0; i < length; ++i) {
    d[i] = r + static_cast<double>(i);
    u[i] = static_cast<std::uint64_t>(r) + i;
  }
  mpi().allreduce_sum(std::span<double>(d));
  mpi().allreduce_sum(std::span<std::uint64_t>(u));
  const std::uint64_t rank_sum = std::uint64_t(n) * (n - 1) / 2;
  for (std::size_t i = 0; i < length; ++i) {
    ASSERT_EQ(d[i], static_cast<double>(rank_sum + n * i)) << "at " << i;
    ASSERT_EQ(u[i], rank_sum + n * i) << "at " << i;
  }
}

// A mergeable statistics struct reduces to the answer computed by formula for all ranks' values.
TEST(MpiContextMpi, AllreduceMergeableStats) {
  const int n = mpi().size();
  const int r = mpi().rank();
  stats mine;
  for (int k = 1; k <= 3; ++k) mine.add(10.0 * r + k);
  const stats all = mpi().allreduce(mine);
  EXPECT_EQ(all.count, 3 * n);
  EXPECT_EQ(all.sum, 30.0 * n * (n - 1) / 2 + 6.0 * n);
  EXPECT_EQ(all.min, 1.0);
  EXPECT_EQ(all.max, 10.0 * (n - 1) + 3);
}

// Partial results keep rank order on every rank (left before right at every merge): the trace
// reads 0, 1, ..., n-1.
TEST(MpiContextMpi, MergeOrderIsRankOrder) {
  const int n = mpi().size();
  ASSERT_LE(n, merge_trace::capacity);
  merge_trace mine;
  mine.ids[0] = mpi().rank();
  mine.count = 1;
  const merge_trace all = mpi().allreduce(mine);
  ASSERT_EQ(all.count, n);
  for (int i = 0; i < n; ++i) EXPECT_EQ(all.ids[i], i) << "position " << i;
}

// allreduce merges along the fixed balanced tree over the ranks, on every rank the same, for
// fixed-size and for serialized partials: the shape written out by hand for 1 to 8 ranks (a
// rank-order fold would read "((0 1) 2)" at 3 ranks, a different tree another shape).
TEST(MpiContextMpi, MergeTreeIsTheBalancedTreeOverRanks) {
  const int n = mpi().size();
  ASSERT_LE(n, static_cast<int>(std::size(kTreeShapes)));
  tree_shape mine;
  std::snprintf(mine.text, sizeof mine.text, "%d", mpi().rank());
  EXPECT_STREQ(mpi().allreduce(mine).text, kTreeShapes[n - 1]);
  const tree_shape_text text = mpi().allreduce(tree_shape_text{std::to_string(mpi().rank())});
  EXPECT_EQ(text.text, kTreeShapes[n - 1]);
}

// Variable-size results (histograms) merge in rank order too, whatever each rank's size.
TEST(MpiContextMpi, AllreduceSerializableInRankOrder) {
  rank_list mine;
  mine.ids.assign(static_cast<std::size_t>(mpi().rank() + 1), mpi().rank());
  const rank_list all = mpi().allreduce(mine);
  std::vector<int> expected;
  for (int r = 0; r < mpi().size(); ++r) expected.insert(expected.end(), static_cast<std::size_t>(r + 1), r);
  EXPECT_EQ(all.ids, expected);
}

// allgather returns every rank's value in rank order on every rank.
TEST(MpiContextMpi, AllgatherInRankOrder) {
  const int n = mpi().size();
  const std::vector<std::int64_t> all = mpi().allgather(std::int64_t{1000} * mpi().rank() - 7);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(all[i], 1000 * i - 7);
}

// Strings of different lengths (rank 0's is empty) arrive whole and in rank order at the root;
// other ranks get nothing.
TEST(MpiContextMpi, GatherStringsAtRoot) {
  const int n = mpi().size();
  for (const int root : {0, n - 1}) {
    SCOPED_TRACE("root " + std::to_string(root));
    const int r = mpi().rank();
    const std::vector<std::string> all = mpi().gather(
        std::string(static_cast<std::size_t>(3 * r), static_cast<char>('a' + r)), root);
    if (r == root) {
      // EXPECT, not ASSERT: returning early would leave the other ranks in the next gather.
      EXPECT_EQ(all.size(), static_cast<std::size_t>(n));
      for (int i = 0; i < n && i < static_cast<int>(all.size()); ++i) {
        EXPECT_EQ(all[i], std::string(static_cast<std::size_t>(3 * i), static_cast<char>('a' + i)));
      }
    } else {
      EXPECT_TRUE(all.empty());
    }
  }
}

// Every rank receives the root's bytes, whatever it passed itself.
TEST(MpiContextMpi, BroadcastFromLastRank) {
  const int root = mpi().size() - 1;
  const std::string text = mpi().rank() == root ? "message from the last rank" : "ignored";
  const std::vector<std::byte> got =
      mpi().broadcast_bytes(std::as_bytes(std::span(text.data(), text.size())), root);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()),
            "message from the last rank");
}

// A root outside the job is refused on every rank before any message moves, so no rank hangs.
TEST(MpiContextMpi, BadRootThrowsEverywhere) {
  try {
    mpi().broadcast_bytes({}, mpi().size());
    ADD_FAILURE() << "root == size accepted";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
  }
  mpi().barrier();
}

}  // namespace

int main(int argc, char** argv) {
  strata::MpiContext context(argc, argv);
  the_mpi = &context;
  ::testing::InitGoogleTest(&argc, argv);
  // Every rank runs every test; only rank 0 prints the full log, the others print failures.
  if (context.rank() != 0) GTEST_FLAG_SET(brief, true);
  const int failed = RUN_ALL_TESTS();
  // A rank that failed must make the whole run fail, even if mpiexec only looked at rank 0.
  const bool any_failed = context.allreduce_or(failed != 0);
  return any_failed ? 1 : 0;
}
