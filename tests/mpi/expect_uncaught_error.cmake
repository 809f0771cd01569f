# SPDX-License-Identifier: Apache-2.0
# Runs PROGRAM alone (NP 0) or under MPIEXEC with NP ranks and passes only if it ended with exit
# code 1 and stderr named the strata::Error in one line ("<program name>: error ..."), with no
# "terminate called" and no backtrace. Alone, stderr must be exactly that line. Used for an
# uncaught error (the Runtime's terminate handler) and for one leaving strata::run_main.
# Usage: cmake -DPROGRAM=... -DNP=0|2 [-DMPIEXEC=... -DNUMPROC_FLAG=-n] -P expect_uncaught_error.cmake
if(NP EQUAL 0)
  set(command ${PROGRAM})
else()
  set(command ${MPIEXEC} ${NUMPROC_FLAG} ${NP} --oversubscribe ${PROGRAM})
endif()
execute_process(COMMAND ${command} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 60)
message("${out}${err}")
if(NOT result STREQUAL "1")
  message(FATAL_ERROR "expected exit code 1, got: ${result}")
endif()
if(err MATCHES "terminate called" OR err MATCHES "Backtrace" OR err MATCHES "\\[ *[0-9]+\\] ")
  message(FATAL_ERROR "the uncaught error ended in terminate's report or a backtrace")
endif()
set(line "io: cannot open the job's input")
get_filename_component(name ${PROGRAM} NAME)
if(NP EQUAL 0)
  if(NOT err MATCHES "^${name}: error: ${line}[^\n]*\n$")
    message(FATAL_ERROR "expected exactly one line naming the error, got: ${err}")
  endif()
elseif(NOT err MATCHES "${name}: error \\(rank [0-9]+\\): ${line}")
  message(FATAL_ERROR "no line naming the error and its rank: ${err}")
endif()
