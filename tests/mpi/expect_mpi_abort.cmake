# SPDX-License-Identifier: Apache-2.0
# Runs PROGRAM under MPIEXEC with 2 ranks and passes only if the job was aborted: mpiexec exits
# with the code MpiContext hands MPI_Abort (1) before TIMEOUT_SECONDS. The "MPI_ABORT was invoked"
# banner is not checked because Open MPI 4.1 sometimes loses it (show_help unpack errors).
# Usage: cmake -DMPIEXEC=... -DNUMPROC_FLAG=-n -DPROGRAM=... -DTIMEOUT_SECONDS=30 -P expect_mpi_abort.cmake
execute_process(
  COMMAND ${MPIEXEC} ${NUMPROC_FLAG} 2 --oversubscribe ${PROGRAM}
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT ${TIMEOUT_SECONDS})
message("${out}${err}")
if(NOT result STREQUAL "1")
  message(FATAL_ERROR "expected the job to abort with exit code 1, got: ${result}")
endif()
if(out MATCHES "passed the barrier")
  message(FATAL_ERROR "a rank passed the barrier: the failing rank did not abort the job")
endif()
