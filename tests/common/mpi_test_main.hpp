// SPDX-License-Identifier: Apache-2.0
// The end of an MPI test binary's main: GoogleTest's report from rank 0 only, and one verdict for
// the job (a failure on any rank fails every rank's exit code), so mpiexec and CTest agree.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <strata/strata.hpp>

namespace strata::test {

// Runs every test on every rank, printing results on rank 0; 1 when any rank failed, else 0.
// Every rank has passed a barrier on return, so rank 0 may then remove shared files.
inline int run_all_tests_on_every_rank(strata::Runtime& runtime) {
  if (runtime.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  const bool any_failed = runtime.mpi().allreduce_max(std::int64_t{failed}) != 0;
  runtime.mpi().barrier();
  return any_failed ? 1 : 0;
}

}  // namespace strata::test
