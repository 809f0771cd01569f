// SPDX-License-Identifier: Apache-2.0
// The one way a strata program ends on an error: run_main creates the job's Runtime, runs the
// job's body with it, and turns a strata::Error (or any std::exception) that leaves the body into
// one line on stderr, "<program>: error: <category>: <message> (<context>)" — "error (rank N)"
// when the job has several ranks — then ends the other ranks (MPI_Abort) so none waits forever
// in its next collective, and returns exit code 1. The line is printed while the Runtime is still
// alive: a Runtime destroyed by the unwinding exception would end a job of several ranks before
// anything was printed.
//
//   int main(int argc, char** argv) {
//     return strata::run_main(argc, argv, [&](strata::Runtime& rt) {
//       auto ds = strata::io::Dataset::open(argv[1]);   // an error here: one line, exit 1
//       ...
//       return 0;
//     });
//   }
#pragma once

#include <functional>

#include "strata/runtime/cluster/runtime.hpp"

namespace strata {

// The job's body: returns the process's exit code (0 for success).
using JobBody = std::function<int(Runtime&)>;

// Creates Runtime(argc, argv, options) and returns body(rt). An error from the Runtime itself
// (a malformed Slurm environment) or from the body is printed as above and returns 1; with
// several ranks the job ends through MPI_Abort(1) after the line is printed (only the failing
// rank prints); std::bad_alloc is named as memory, with the address-space limit when one is set
// (out_of_memory_error). Exceptions that are not std::exception reach the terminate handler.
int run_main(int& argc, char**& argv, const JobBody& body, RuntimeOptions options = {});
// The same without the command line (a program that parsed its own, or a library call).
int run_main(RuntimeOptions options, const JobBody& body);

}  // namespace strata
