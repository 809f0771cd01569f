// SPDX-License-Identifier: Apache-2.0
// What happens to an exception nobody catches in a strata program: one line naming it, then the
// job ends with a non-zero code (every rank of it, through MPI_Abort, when there are several).
#pragma once

#include <string>

namespace strata::detail {

// Installs the std::terminate handler (once per process; later calls do nothing). For an active
// exception it prints "<program>: error: <what>" (with the rank when the job has several) on
// stderr and ends the process with exit code 1, or the whole job with MPI_Abort(1) when MPI runs
// with more than one rank — instead of "terminate called ..." and a backtrace (exit 134).
// std::terminate without an exception goes to the previous handler.
void install_uncaught_error_handler() noexcept;

// The one error line of a strata program (this handler's, and run_main's): "<program>: error:
// <what>" or, when MPI runs with several ranks, "<program>: error (rank N): <what>", escaped for
// the terminal (strata::printable) and flushed.
void print_error_line(const std::string& what) noexcept;

}  // namespace strata::detail
