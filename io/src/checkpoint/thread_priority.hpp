// SPDX-License-Identifier: Apache-2.0
// The priority of a checkpoint's background work (the drain to the shared folder, pruning older
// steps): a thread lowers its own CPU and I/O priority while nobody waits for it, and puts them
// back when someone does.
#pragma once

#include <linux/ioprio.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "strata/runtime/base/log.hpp"

namespace strata::io::detail {

// Background work (the drain, pruning older steps) runs at nice 19 under SCHED_OTHER (also when
// the job runs under a real-time policy): the drain's copy goes from the local file to the device
// with O_DIRECT and needs little CPU, and nice 19 caps what it may take from a busy core at about
// 1.5 % while still guaranteeing it progress (SCHED_IDLE would stall it for as long as the simulation keeps every core busy). Its
// I/O runs at best effort, lowest level (7): the block layer's scheduler (mq-deadline, bfq) serves
// the simulation's own I/O first. Not the idle I/O class: on a disk that is never idle the drain
// would starve and miss a stop signal's lead time.
constexpr int kBackgroundNice = 19;
constexpr int kBackgroundIoPriority = IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7);

// The calling thread's CPU and I/O priority (Linux keeps both per thread), lowered for background
// work and put back when someone waits for it. Best effort: a refused call leaves the work at the
// simulation's priority, which is slower for the simulation, not wrong. Going back from nice 19
// needs CAP_SYS_NICE or an RLIMIT_NICE of 20 (`ulimit -e`); without either the drain stays at
// nice 19, and runs on the CPUs that the threads waiting for it left free.
class ThreadPriority {
 public:
  void lower() noexcept {
    tid_ = static_cast<id_t>(::syscall(SYS_gettid));
    if (::pthread_getschedparam(::pthread_self(), &policy_, &param_) == 0 &&
        policy_ != SCHED_OTHER) {
      const sched_param normal{};
      policy_lowered_ = ::pthread_setschedparam(::pthread_self(), SCHED_OTHER, &normal) == 0;
    }
    errno = 0;
    nice_ = ::getpriority(PRIO_PROCESS, tid_);
    nice_lowered_ = errno == 0 && ::setpriority(PRIO_PROCESS, tid_, kBackgroundNice) == 0;
    io_ = static_cast<int>(::syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid_));
    io_lowered_ = io_ >= 0 &&
                  ::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid_, kBackgroundIoPriority) == 0;
  }
  bool lowered() const noexcept { return policy_lowered_ || nice_lowered_ || io_lowered_; }
  // The I/O priority and nice value first: once the policy is back, so is everything.
  void restore() noexcept {
    if (io_lowered_) {
      io_lowered_ = ::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid_, io_) != 0;
    }
    if (nice_lowered_) {
      nice_lowered_ = ::setpriority(PRIO_PROCESS, tid_, nice_) != 0;
      if (nice_lowered_) {
        log::warn_once("drain-priority",
                       "checkpoint drain: cannot leave nice 19 to hurry (needs CAP_SYS_NICE or "
                       "RLIMIT_NICE 20); it goes on at low priority");
      }
    }
    if (policy_lowered_) {
      policy_lowered_ = ::pthread_setschedparam(::pthread_self(), policy_, &param_) != 0;
    }
  }

 private:
  id_t tid_ = 0;
  int policy_ = SCHED_OTHER;
  sched_param param_{};
  int nice_ = 0;
  int io_ = -1;
  bool policy_lowered_ = false;
  bool nice_lowered_ = false;
  bool io_lowered_ = false;
};

}  // namespace strata::io::detail
