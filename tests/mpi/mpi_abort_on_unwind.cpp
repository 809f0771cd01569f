// SPDX-License-Identifier: Apache-2.0
// A job whose rank 1 leaves MpiContext's scope by an exception while rank 0 waits in a barrier.
// MpiContext must abort the job (MPI_Abort) rather than finalize; without that, rank 0 would wait
// forever. CTest passes when mpiexec reports the abort and fails on its timeout.
#include <cstdio>
#include <stdexcept>

#include "strata/runtime/cluster/mpi_context.hpp"

int main(int argc, char** argv) {
  try {
    strata::MpiContext mpi(argc, argv);
    if (mpi.size() < 2) {
      std::fprintf(stderr, "run under mpiexec -n 2 or more\n");
      return 2;
    }
    if (mpi.rank() == 1) throw std::runtime_error("rank 1 fails mid-job");
    mpi.barrier();
    std::printf("rank %d passed the barrier: the failed rank did not abort the job\n", mpi.rank());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "caught after unwinding: %s\n", e.what());
  }
  return 0;
}
