// SPDX-License-Identifier: Apache-2.0
// Tests MpiContext in a program started without mpirun: the launcher rule, the one-rank context
// that never starts MPI, and Open MPI's singleton mode when MPI is asked for. MPI can be
// initialised once per process, so the singleton's whole life cycle is one TEST; ctest runs every
// TEST in a process of its own.
#include "strata/runtime/cluster/mpi_context.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::Error;
using strata::ErrorCategory;
using strata::MpiContext;
using strata::MpiStart;

struct partial_sum {
  std::int64_t count = 0;
  double sum = 0;
  void merge(const partial_sum& other) {
    count += other.count;
    sum += other.sum;
  }
};

// The variables every launcher a test run might inherit; cleared so "started directly" holds.
void clear_launcher_environment() {
  for (const char* name :
       {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "SLURM_STEP_ID",
        "SLURM_STEPID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "STRATA_MPI"}) {
    unsetenv(name);
  }
}

// What every one-rank context must do, with MPI (a singleton) or without: rank 0 of 1 on one
// node, every collective hands back its input, and a root outside the job is refused.
void expect_one_rank_job(const MpiContext& mpi) {
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
}

// Proves the launcher rule: each launcher's variable counts, a Slurm step counts only with more
// than one task, and a batch script or a plain shell does not; fails if a direct start would
// start MPI or a launched rank would run alone.
TEST(MpiLauncher, VariablesThatShowALauncher) {
  using Env = std::map<std::string, std::string>;
  EXPECT_EQ(strata::mpi_launcher_variable(Env{}), "");
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"HOME", "/root"}, {"PATH", "/bin"}}), "");
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"OMPI_COMM_WORLD_SIZE", "1"}}),
            "OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"PMIX_RANK", "0"}}), "PMIX_RANK");
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"PMI_RANK", "3"}}), "PMI_RANK");
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"PMI_SIZE", "4"}}), "PMI_SIZE");
  // The batch script of a 4-task job: no step, no launch.
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"SLURM_JOB_ID", "7"}, {"SLURM_NTASKS", "4"}}), "");
  // srun -n 1 without an MPI plugin: one task is a direct start.
  EXPECT_EQ(strata::mpi_launcher_variable(
                Env{{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "1"}, {"SLURM_NTASKS", "4"}}),
            "");
  EXPECT_EQ(
      strata::mpi_launcher_variable(Env{{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "2"}}),
      "SLURM_STEP_NUM_TASKS");
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"SLURM_STEPID", "1"}, {"SLURM_NTASKS", "8"}}),
            "SLURM_NTASKS");
  EXPECT_EQ(strata::mpi_launcher_variable(Env{{"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "x"}}), "");
}

// Proves a directly started process is rank 0 of 1 without MPI: MPI is never initialised, every
// collective hands back its input (argument checks included), a duplicate works, and a message
// to itself is copied; fails if a plain run started MPI (Open MPI's singleton daemon).
TEST(MpiContext, NoMpiWithoutLauncher) {
  clear_launcher_environment();
  MpiContext mpi;
  EXPECT_FALSE(mpi.uses_mpi());
  EXPECT_EQ(mpi.thread_level(), strata::MpiThreadLevel::multiple);
  expect_one_rank_job(mpi);
  std::array<std::uint64_t, 2> counts{5, 9};
  mpi.allreduce_sum(std::span<std::uint64_t>(counts));
  EXPECT_EQ(counts, (std::array<std::uint64_t, 2>{5, 9}));

  const std::vector<std::byte> message{std::byte{1}, std::byte{2}, std::byte{3}};
  std::vector<std::byte> received(3);
  mpi.sendrecv_bytes(message, 0, received, 0);
  EXPECT_EQ(received, message);
  EXPECT_THROW(mpi.sendrecv_bytes(message, -1, received, 0), Error);  // nothing would arrive

  auto copy = mpi.duplicate();
  EXPECT_FALSE(copy->uses_mpi());
  EXPECT_EQ(copy->allgather(7), std::vector<int>{7});
}

// Proves STRATA_MPI accepts only "auto" and "always", naming the variable otherwise.
TEST(MpiContext, RejectsUnknownStrataMpi) {
  clear_launcher_environment();
  setenv("STRATA_MPI", "sometimes", 1);
  try {
    MpiContext mpi;
    ADD_FAILURE() << "STRATA_MPI=sometimes was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::config);
    EXPECT_EQ(e.context_value("variable"), "STRATA_MPI");
  }
  unsetenv("STRATA_MPI");
}

// Asked to start MPI without mpirun the context is an MPI singleton: rank 0 of 1 on one node,
// every collective returns the input, a second context attaches without finalizing, and once the
// owner is gone MPI cannot come back.
TEST(MpiContext, SingletonWithoutMpirun) {
  // --gtest_repeat runs this body again in the same process, where MPI is already finalized.
  static bool ran_in_this_process = false;
  if (ran_in_this_process) GTEST_SKIP() << "MPI can be initialised only once per process";
  ran_in_this_process = true;
  {
    MpiContext mpi(MpiStart::always);
    EXPECT_TRUE(mpi.uses_mpi());
    expect_one_rank_job(mpi);

    {
      MpiContext attached;  // MPI runs already: attached to, even without a launcher
      EXPECT_TRUE(attached.uses_mpi());
      EXPECT_EQ(attached.size(), 1);
    }
    // Still usable: the attached context did not finalize what it did not initialise.
    EXPECT_EQ(mpi.allreduce_sum(3.0), 3.0);
  }

  try {
    MpiContext again(MpiStart::always);
    ADD_FAILURE() << "MPI was initialised a second time in one process";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::distributed);
  }
}

}  // namespace
