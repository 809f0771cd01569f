// SPDX-License-Identifier: Apache-2.0
// StopSignals: turns SIGUSR1 and SIGTERM (what Slurm sends before a job's time limit, and what
// scancel sends) into a flag that the job polls with stop_requested() at a safe point, e.g.
// between time steps, to checkpoint and exit instead of being killed mid-write.
//
//   strata::StopSignals stop;   // installs the handlers; the destructor restores the old ones
//   while (!stop.stop_requested()) step();
//
// The handler only stores the signal number into a lock-free atomic (async-signal-safe).
#pragma once

#include <csignal>

namespace strata {

class StopSignals {
 public:
  // Installs handlers for SIGUSR1 and SIGTERM. Only one StopSignals may be alive at a time
  // (they share the process's signal dispositions); a second one throws Error(invalid_argument).
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // True once SIGUSR1 or SIGTERM has arrived.
  bool stop_requested() const noexcept;
  // The first stop signal that arrived (SIGUSR1 or SIGTERM), or 0.
  int stop_signal() const noexcept;
  // Sets the flag from code (tests, or a job that decides to stop itself) as a signal would:
  // the first request wins, and 0 (meaning "no stop") is ignored.
  void request_stop(int signal_number = SIGTERM) noexcept;
  // Clears the flag (after the job has acted on it and wants to continue).
  void reset() noexcept;
};

}  // namespace strata
