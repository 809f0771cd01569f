# SPDX-License-Identifier: Apache-2.0
# Saves a row-layout mapped file on 2 ranks with PROGRAM, then restores it on 1 and on 3 ranks
# into fresh files; passes only when every run exits 0 (each checks every element it restored).
# Usage: cmake -DPROGRAM=... -DMPIEXEC=... -DNUMPROC_FLAG=-n -DWORK=<folder> -P expect_mapped_rescale.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
foreach(run "2;save" "1;restore" "3;restore")
  list(GET run 0 np)
  list(GET run 1 mode)
  execute_process(COMMAND ${MPIEXEC} ${NUMPROC_FLAG} ${np} --oversubscribe ${PROGRAM} ${mode} ${WORK}
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  message("${out}${err}")
  if(NOT result STREQUAL "0")
    message(FATAL_ERROR "${mode} on ${np} ranks failed (exit ${result})")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
