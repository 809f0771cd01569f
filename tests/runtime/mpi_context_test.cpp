// SPDX-License-Identifier: Apache-2.0
// Tests MpiContext in a program started without mpirun (Open MPI's singleton mode): a one-rank
// job whose collectives hand back the input. MPI can be initialised once per process, so the
// whole life cycle is one TEST; ctest runs every TEST in a process of its own.
#include "strata/runtime/cluster/mpi_context.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::Error;
using strata::ErrorCategory;
using strata::MpiContext;

struct partial_sum {
  std::int64_t count = 0;
  double sum = 0;
  void merge(const partial_sum& other) {
    count += other.count;
    sum += other.sum;
  }
};

// Without mpirun the context is rank 0 of 1 on one node, every collective returns the input, a
// second context attaches without finalizing, and once the owner is gone MPI cannot come back.
TEST(MpiContext, SingletonWithoutMpirun) {
  // --gtest_repeat runs this body again in the same process, where MPI is already finalized.
  static bool ran_in_this_process = false;
  if (ran_in_this_process) GTEST_SKIP() << "MPI can be initialised only once per process";
  ran_in_this_process = true;
  {
    MpiContext mpi;
    EXPECT_EQ(mpi.rank(), 0);
    EXPECT_EQ(mpi.size(), 1);
    EXPECT_EQ(mpi.local_rank(), 0);
    EXPECT_EQ(mpi.local_size(), 1);
    EXPECT_EQ(mpi.node_count(), 1);
    EXPECT_EQ(mpi.node_index(), 0);
    EXPECT_NE(mpi.library_version().find("Open MPI"), std::string::npos);
    EXPECT_FALSE(mpi.processor_name().empty());

    EXPECT_EQ(mpi.allreduce_sum(2.5), 2.5);
    EXPECT_EQ(mpi.allreduce_min(-1.25), -1.25);
    EXPECT_EQ(mpi.allreduce_max(std::int64_t{-7}), -7);
    EXPECT_EQ(mpi.allreduce_sum(std::int64_t{1} << 40), std::int64_t{1} << 40);
    EXPECT_EQ(mpi.allreduce_sum(std::uint64_t{18'000'000'000'000'000'000u}),
              18'000'000'000'000'000'000u);
    EXPECT_FALSE(mpi.allreduce_and(false));
    EXPECT_TRUE(mpi.allreduce_or(true));

    std::array<double, 3> values{1.5, -2.0, 4.0};
    mpi.allreduce_sum(std::span<double>(values));
    EXPECT_EQ(values, (std::array<double, 3>{1.5, -2.0, 4.0}));

    const partial_sum merged = mpi.allreduce(partial_sum{3, 9.5});
    EXPECT_EQ(merged.count, 3);
    EXPECT_EQ(merged.sum, 9.5);

    EXPECT_EQ(mpi.gather(std::string("only rank"), 0), std::vector<std::string>{"only rank"});
    EXPECT_EQ(mpi.allgather(42), std::vector<int>{42});
    const std::vector<std::byte> message{std::byte{1}, std::byte{2}, std::byte{3}};
    EXPECT_EQ(mpi.broadcast_bytes(message, 0), message);
    mpi.barrier();

    try {
      mpi.gather(std::string("x"), 1);
      ADD_FAILURE() << "gather to a root outside the job was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::invalid_argument);
      EXPECT_EQ(e.context_value("root"), "1");
    }

    {
      MpiContext attached;
      EXPECT_EQ(attached.size(), 1);
    }
    // Still usable: the attached context did not finalize what it did not initialise.
    EXPECT_EQ(mpi.allreduce_sum(3.0), 3.0);
  }

  try {
    MpiContext again;
    ADD_FAILURE() << "MPI was initialised a second time in one process";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::distributed);
  }
}

}  // namespace
