// SPDX-License-Identifier: Apache-2.0
// One global_control for all executors, resized to the largest live reservation under a mutex.
#include "worker_budget.hpp"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include <mutex>
#include <optional>
#include <set>

namespace strata::detail {
namespace {

struct Budget {
  std::mutex mutex;
  std::multiset<std::size_t> reservations;
  std::optional<oneapi::tbb::global_control> control;
  std::size_t value = 0;  // of `control`; 0 when there is none

  // Called with the mutex held. oneTBB's default is one thread per CPU the process may use; a
  // control only ever raises it, so other oneTBB users in the process are never capped by us.
  void apply() {
    const auto fallback = static_cast<std::size_t>(oneapi::tbb::info::default_concurrency());
    const std::size_t wanted = reservations.empty() ? 0 : *reservations.rbegin() + 1;
    const std::size_t desired = wanted > fallback ? wanted : 0;
    if (desired == value) return;
    // Replace, not stack: with two controls alive oneTBB would apply the smaller.
    control.reset();
    if (desired != 0)
      control.emplace(oneapi::tbb::global_control::max_allowed_parallelism, desired);
    value = desired;
  }
};

Budget& budget() {
  static Budget* instance = new Budget;  // never destroyed: executors may outlive static teardown
  return *instance;
}

}  // namespace

WorkerReservation::WorkerReservation(std::size_t threads) : threads_(threads) {
  Budget& b = budget();
  std::lock_guard lock(b.mutex);
  b.reservations.insert(threads_);
  b.apply();
}

WorkerReservation::~WorkerReservation() {
  Budget& b = budget();
  std::lock_guard lock(b.mutex);
  b.reservations.erase(b.reservations.find(threads_));
  b.apply();
}

}  // namespace strata::detail
