// SPDX-License-Identifier: Apache-2.0
// oneTBB's process-wide cap on worker threads (global_control::max_allowed_parallelism) must cover
// every live Executor at once. oneTBB applies the *smallest* of all live controls, so executors
// cannot each hold their own: they register here, and one control is kept at the largest need.
#pragma once

#include <cstddef>

namespace strata::detail {

// While alive, oneTBB allows at least `threads` workers (plus one for the application thread).
// Never lowers the cap below oneTBB's default; a smaller cap the application set itself still
// wins (oneTBB's rule).
class WorkerReservation {
 public:
  explicit WorkerReservation(std::size_t threads);
  ~WorkerReservation();
  WorkerReservation(const WorkerReservation&) = delete;
  WorkerReservation& operator=(const WorkerReservation&) = delete;

 private:
  std::size_t threads_;
};

}  // namespace strata::detail
