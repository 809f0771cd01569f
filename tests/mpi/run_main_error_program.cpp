// SPDX-License-Identifier: Apache-2.0
// A job run through strata::run_main whose last rank throws a strata::Error while the others wait
// in a barrier. run_main must print one line naming the error (and the rank, with several) before
// it ends the job, and the job must end with exit code 1 — what expect_uncaught_error.cmake checks.
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/cluster/run_main.hpp"

int main(int argc, char** argv) {
  return strata::run_main(argc, argv, [](strata::Runtime& rt) {
    if (rt.rank() == rt.size() - 1) {
      throw strata::Error(strata::ErrorCategory::io, "cannot open the job's input",
                          {{"file", "missing.h5"}});
    }
    rt.mpi().barrier();
    return 0;
  });
}
