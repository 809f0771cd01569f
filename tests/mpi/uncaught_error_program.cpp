// SPDX-License-Identifier: Apache-2.0
// A job whose last rank throws a strata::Error nobody catches while the others wait in a barrier.
// The Runtime's terminate handler must print one line naming the error and end the job with exit
// code 1 (MPI_Abort with several ranks), not "terminate called" with a backtrace (exit 134).
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/cluster/runtime.hpp"

int main(int argc, char** argv) {
  strata::Runtime rt(argc, argv);
  if (rt.rank() == rt.size() - 1) {
    throw strata::Error(strata::ErrorCategory::io, "cannot open the job's input",
                        {{"file", "missing.h5"}});
  }
  rt.mpi().barrier();
  return 0;
}
