// SPDX-License-Identifier: Apache-2.0
// The Python module's one Runtime and Executor per process: created by strata.Runtime(...) or, on
// first need, with defaults by strata.runtime(); closed at interpreter exit before mpi4py ends MPI.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "strata/runtime/cluster/runtime.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::python {

struct SessionOptions {
  unsigned threads = 0;       // 0: STRATA_THREADS or every allowed CPU
  bool stop_signals = false;  // SIGUSR1/SIGTERM feed stop_requested(); off keeps Python's own
};

// A Runtime and the Executor on it; close() ends both (the Executor first), after which using it
// raises strata.Error.
class Session {
 public:
  explicit Session(const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Error(invalid_argument) once closed.
  Runtime& runtime();
  Executor& executor();
  bool closed() const noexcept { return !runtime_; }
  // Runs the closers (newest first: what uses the runtime, such as a Checkpointer, ends before
  // it), then ends the executor and the runtime.
  void close() noexcept;
  // `closer` runs at close(); it must not throw.
  void on_close(std::function<void()> closer) { closers_.push_back(std::move(closer)); }

 private:
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<Executor> executor_;
  std::vector<std::function<void()>> closers_;
};

// The process's session: the current one, or a new one with default options.
std::shared_ptr<Session> current_session();
// Makes a session with `options` the process's; Error(invalid_argument) when an open one exists.
std::shared_ptr<Session> start_session(const SessionOptions& options);
// Closes the process's session (atexit); a later current_session() starts a new one.
void end_session() noexcept;

}  // namespace strata::python
