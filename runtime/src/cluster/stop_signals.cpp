// SPDX-License-Identifier: Apache-2.0
// StopSignals: sigaction handlers for SIGUSR1/SIGTERM that record the first stop signal in a
// lock-free atomic, the only kind of shared state a signal handler may touch safely. The state is
// file-static because a signal disposition belongs to the process, not to an object.
#include "strata/runtime/cluster/stop_signals.hpp"

#include <atomic>
#include <cerrno>

#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

// 0 while no stop was requested, else the first signal number that requested it.
std::atomic<int> stop_signal_number{0};
static_assert(std::atomic<int>::is_always_lock_free,
              "the signal handler needs a lock-free atomic to be async-signal-safe");

std::atomic<bool> instance_alive{false};
struct sigaction previous_usr1 {};
struct sigaction previous_term {};

void record_stop(int signal_number) noexcept {
  int expected = 0;
  // Keeps the first signal: a TERM that follows Slurm's USR1 must not hide why we stopped.
  stop_signal_number.compare_exchange_strong(expected, signal_number);
}

extern "C" void on_stop_signal(int signal_number) { record_stop(signal_number); }

}  // namespace

StopSignals::StopSignals() {
  if (instance_alive.exchange(true)) {
    throw Error(
        ErrorCategory::invalid_argument,
        "a StopSignals object is already alive; the process has one set of signal handlers");
  }
  stop_signal_number.store(0);

  struct sigaction action {};
  action.sa_handler = &on_stop_signal;
  // Restart interrupted reads and writes: the job polls the flag, it does not want EINTR.
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGUSR1);
  sigaddset(&action.sa_mask, SIGTERM);

  if (sigaction(SIGUSR1, &action, &previous_usr1) != 0) {
    const int err = errno;
    instance_alive.store(false);
    throw_system_error("sigaction(SIGUSR1)", err);
  }
  if (sigaction(SIGTERM, &action, &previous_term) != 0) {
    const int err = errno;
    sigaction(SIGUSR1, &previous_usr1, nullptr);
    instance_alive.store(false);
    throw_system_error("sigaction(SIGTERM)", err);
  }
}

StopSignals::~StopSignals() {
  sigaction(SIGTERM, &previous_term, nullptr);
  sigaction(SIGUSR1, &previous_usr1, nullptr);
  instance_alive.store(false);
}

bool StopSignals::stop_requested() const noexcept { return stop_signal_number.load() != 0; }

int StopSignals::stop_signal() const noexcept { return stop_signal_number.load(); }

void StopSignals::request_stop(int signal_number) noexcept { record_stop(signal_number); }

void StopSignals::reset() noexcept { stop_signal_number.store(0); }

}  // namespace strata
