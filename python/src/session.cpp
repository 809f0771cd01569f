// SPDX-License-Identifier: Apache-2.0
// The process's Session. The Runtime attaches to an MPI that mpi4py (or anyone) initialised, and
// starts MPI itself only under a launcher (mpirun, srun); it finalises only the MPI it started.
#include "session.hpp"

#include <string>

#include "strata/runtime/base/error.hpp"

namespace strata::python {
namespace {

std::shared_ptr<Session>& process_session() {
  static std::shared_ptr<Session> session;
  return session;
}

}  // namespace

Session::Session(const SessionOptions& options)
    : runtime_(
          std::make_unique<Runtime>(RuntimeOptions{.install_stop_signals = options.stop_signals})),
      executor_(
          std::make_unique<Executor>(*runtime_, ExecutorOptions{.threads = options.threads})) {}

Session::~Session() { close(); }

Runtime& Session::runtime() {
  if (!runtime_) throw Error(ErrorCategory::invalid_argument, "the strata runtime is closed");
  return *runtime_;
}

Executor& Session::executor() {
  if (!executor_) throw Error(ErrorCategory::invalid_argument, "the strata runtime is closed");
  return *executor_;
}

void Session::close() noexcept {
  while (!closers_.empty()) {
    auto closer = std::move(closers_.back());
    closers_.pop_back();
    closer();
  }
  executor_.reset();
  runtime_.reset();
}

std::shared_ptr<Session> current_session() {
  auto& session = process_session();
  if (!session || session->closed()) session = std::make_shared<Session>(SessionOptions{});
  return session;
}

std::shared_ptr<Session> start_session(const SessionOptions& options) {
  auto& session = process_session();
  if (session && !session->closed()) {
    throw Error(ErrorCategory::invalid_argument,
                "a strata.Runtime already exists in this process (rank " +
                    std::to_string(session->runtime().rank()) + " of " +
                    std::to_string(session->runtime().size()) +
                    "); use strata.runtime() to get it, or close() it first");
  }
  session = std::make_shared<Session>(options);
  return session;
}

void end_session() noexcept {
  auto& session = process_session();
  if (session) session->close();
  session.reset();
}

}  // namespace strata::python
