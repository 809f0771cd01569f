# SPDX-License-Identifier: Apache-2.0
# Runs PROGRAM (node_shared_kill_program) under MPIEXEC with 2 ranks, MODE "normal" or "kill",
# and passes only if the job ended as expected (success, or failure after rank 1's SIGKILL) and
# left no node-shared segment of this job in /dev/shm: the segment's name is printed by the job.
# Usage: cmake -DMPIEXEC=... -DNUMPROC_FLAG=-n -DPROGRAM=... -DMODE=kill -P expect_node_shared_released.cmake
execute_process(
  COMMAND ${MPIEXEC} ${NUMPROC_FLAG} 2 --oversubscribe ${PROGRAM} ${MODE}
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT 60)
message("${out}${err}")
if(MODE STREQUAL "normal" AND NOT result STREQUAL "0")
  message(FATAL_ERROR "expected the job to succeed, got: ${result}")
endif()
if(MODE STREQUAL "kill" AND result STREQUAL "0")
  message(FATAL_ERROR "expected the job to fail after rank 1 was killed")
endif()
string(REGEX MATCH "segment (/dev/shm/strata-[A-Za-z0-9_.-]+)" found "${out}")
if(NOT found)
  message(FATAL_ERROR "the job did not print its segment")
endif()
set(segment "${CMAKE_MATCH_1}")
if(EXISTS "${segment}")
  file(REMOVE "${segment}")
  message(FATAL_ERROR "the node-shared segment ${segment} is still in /dev/shm")
endif()
