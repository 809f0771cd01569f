// SPDX-License-Identifier: Apache-2.0
// The std::terminate handler a Runtime installs: an uncaught exception becomes one line on stderr
// and a clean non-zero exit (MPI_Abort for a job of several ranks, so no rank waits forever).
#include "cluster/uncaught_error.hpp"

#include <mpi.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/text.hpp"

namespace strata::detail {
namespace {

std::terminate_handler previous_handler = nullptr;
std::atomic<bool> installed{false};

[[noreturn]] void on_terminate() noexcept {
  const std::exception_ptr active = std::current_exception();
  if (!active) {
    if (previous_handler != nullptr) previous_handler();
    std::abort();
  }
  std::string what;
  try {
    std::rethrow_exception(active);
  } catch (const Error& e) {
    what = e.what();  // "<category>: <message> (<context>)": names the kind of failure
  } catch (const std::exception& e) {
    what = std::string("uncaught exception: ") + e.what();
  } catch (...) {
    what = "uncaught exception of unknown type";
  }
  print_error_line(what);
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  const bool mpi_running = initialized != 0 && finalized == 0;
  int size = 1;
  if (mpi_running) MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1)
    MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks would wait in their next collective
  // One rank: end MPI as a finished program would, so a launcher does not add its own report.
  if (mpi_running) MPI_Finalize();
  std::_Exit(1);
}

}  // namespace

void print_error_line(const std::string& what) noexcept {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  int rank = 0;
  int size = 1;
  if (initialized != 0 && finalized == 0) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  std::string text;
  try {
    text = printable(what);  // names read from files may hold terminal escapes
  } catch (...) {
    text = what.c_str();
  }
  if (size > 1) {
    std::fprintf(stderr, "%s: error (rank %d): %s\n", program_invocation_short_name, rank,
                 text.c_str());
  } else {
    std::fprintf(stderr, "%s: error: %s\n", program_invocation_short_name, text.c_str());
  }
  std::fflush(stderr);
}

void install_uncaught_error_handler() noexcept {
  if (installed.exchange(true)) return;
  previous_handler = std::set_terminate(on_terminate);
}

}  // namespace strata::detail
