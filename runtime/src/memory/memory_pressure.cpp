// SPDX-License-Identifier: Apache-2.0
// MemoryPressureMonitor: levels from one memory reading, responders run on a rise, and a watcher
// thread blocked in poll() on PSI triggers (an eventfd ends it).
#include "strata/runtime/memory/memory_pressure.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"
#include "strata/runtime/files/mapped_view_cache.hpp"
#include "strata/runtime/memory/numa_pool.hpp"

namespace strata {
namespace {

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

std::string percent(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %%", v);
  return text;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Opens a PSI file and arms `trigger` on it; -1 when the kernel or the permissions say no.
int arm_trigger(const std::string& file, const std::string& trigger) {
  int fd = ::open(file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  if (::write(fd, trigger.c_str(), trigger.size() + 1) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::string_view to_string(MemoryPressureLevel level) noexcept {
  switch (level) {
    case MemoryPressureLevel::none:
      return "none";
    case MemoryPressureLevel::moderate:
      return "moderate";
    case MemoryPressureLevel::critical:
      return "critical";
  }
  return "none";
}

MemoryPressureReading assess_memory_pressure(MemoryAvailability availability,
                                             const MemoryPressureThresholds& thresholds,
                                             const std::optional<MemoryEvents>& previous_events) {
  MemoryPressureReading out;
  auto raise = [&](MemoryPressureLevel level, std::string reason) {
    if (level > out.level) {
      out.level = level;
      out.reason = std::move(reason);
    }
  };
  const std::uint64_t limit = availability.limit_bytes();
  if (limit > 0) {
    const double left =
        static_cast<double>(availability.available_bytes()) / static_cast<double>(limit);
    const std::string what = mib(availability.available_bytes()) + " of " + mib(limit) + " left";
    if (left < thresholds.critical_available_fraction) {
      raise(MemoryPressureLevel::critical, what);
    } else if (left < thresholds.moderate_available_fraction) {
      raise(MemoryPressureLevel::moderate, what);
    }
  }
  for (const auto& [psi, where] : {std::pair{&availability.system_pressure, "machine"},
                                   std::pair{&availability.cgroup_pressure, "cgroup"}}) {
    if (!*psi) continue;
    if ((*psi)->full.avg10 >= thresholds.critical_full_avg10) {
      raise(MemoryPressureLevel::critical,
            std::string(where) + " PSI full avg10 " + percent((*psi)->full.avg10));
    } else if ((*psi)->some.avg10 >= thresholds.moderate_some_avg10) {
      raise(MemoryPressureLevel::moderate,
            std::string(where) + " PSI some avg10 " + percent((*psi)->some.avg10));
    }
  }
  if (availability.cgroup_events && previous_events) {
    const MemoryEvents& now = *availability.cgroup_events;
    if (now.oom_kill > previous_events->oom_kill || now.max > previous_events->max) {
      raise(MemoryPressureLevel::critical, "the cgroup reached its memory limit");
    } else if (now.high > previous_events->high) {
      raise(MemoryPressureLevel::moderate, "the cgroup went over memory.high");
    }
  }
  out.availability = std::move(availability);
  return out;
}

MemoryPressureMonitor::Subscription& MemoryPressureMonitor::Subscription::operator=(
    Subscription&& other) noexcept {
  if (this != &other) {
    if (monitor_ != nullptr) monitor_->unsubscribe(id_);
    monitor_ = std::exchange(other.monitor_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

MemoryPressureMonitor::Subscription::~Subscription() {
  if (monitor_ != nullptr) monitor_->unsubscribe(id_);
}

MemoryPressureMonitor::MemoryPressureMonitor(MemoryPressureOptions options)
    : options_(std::move(options)) {}

MemoryPressureMonitor::~MemoryPressureMonitor() { stop_watching(); }

MemoryPressureMonitor::Subscription MemoryPressureMonitor::on_pressure(std::string name,
                                                                       Responder responder) {
  std::lock_guard lock(mutex_);
  Subscription sub;
  sub.monitor_ = this;
  sub.id_ = next_id_++;
  entries_.push_back({sub.id_, std::move(name), std::move(responder)});
  return sub;
}

MemoryPressureMonitor::Subscription MemoryPressureMonitor::watch(NumaPool& pool) {
  return on_pressure("pools", [&pool](MemoryPressureLevel) {
    const std::size_t bytes = pool.trim();
    return bytes == 0 ? std::string() : "trimmed " + mib(bytes) + " of free spans";
  });
}

MemoryPressureMonitor::Subscription MemoryPressureMonitor::watch(MappedViewCache& cache) {
  return on_pressure("view cache", [&cache](MemoryPressureLevel level) {
    const std::uint64_t target =
        level == MemoryPressureLevel::critical ? 0 : cache.budget_bytes() / 2;
    const std::uint64_t bytes = cache.shrink(target);
    return bytes == 0 ? std::string() : "unmapped " + mib(bytes) + " of cached views";
  });
}

void MemoryPressureMonitor::unsubscribe(std::uint64_t id) noexcept {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [id](const Entry& e) { return e.id == id; });
}

MemoryPressureReading MemoryPressureMonitor::check() {
  MemoryAvailability availability = read_memory_availability(options_.paths);
  std::lock_guard lock(mutex_);
  MemoryPressureReading reading =
      assess_memory_pressure(std::move(availability), options_.thresholds, last_events_);
  last_events_ = reading.availability.cgroup_events;
  readings_.fetch_add(1, std::memory_order_relaxed);
  last_reading_ns_.store(now_ns(), std::memory_order_relaxed);
  const MemoryPressureLevel before = level_.load(std::memory_order_relaxed);
  level_.store(reading.level, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  const bool rose = reading.level > before;
  const bool again = reading.level != MemoryPressureLevel::none &&
                     now - last_action_time_ >= options_.repeat_after;
  if (rose || again) {
    std::string did;
    for (const Entry& e : entries_) {
      std::string what;
      try {
        what = e.responder(reading.level);
      } catch (const std::exception& ex) {
        what = std::string("failed: ") + ex.what();
      }
      if (!what.empty()) did += (did.empty() ? "" : "; ") + e.name + ": " + what;
    }
    last_action_time_ = now;
    last_action_ = did.empty() ? "nothing to give back" : did;
    if (rose) {  // once per rise, not on every repeat
      log::warn("memory pressure " + std::string(to_string(reading.level)) + " (" + reading.reason +
                "): " + last_action_ +
                (reading.level == MemoryPressureLevel::critical
                     ? "; new placed regions are refused until it eases"
                     : ""));
    }
  } else if (reading.level == MemoryPressureLevel::none && before != MemoryPressureLevel::none) {
    log::info("memory pressure eased");
  }
  last_reading_ = reading;
  return reading;
}

void MemoryPressureMonitor::check_if_stale() {
  const std::int64_t last = last_reading_ns_.load(std::memory_order_relaxed);
  const std::int64_t period_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.period).count();
  if (last == 0 || now_ns() - last >= period_ns) check();
}

void MemoryPressureMonitor::admit_region(std::size_t bytes) {
  if (!watching()) check_if_stale();
  if (level() != MemoryPressureLevel::critical) return;
  MemoryPressureReading reading;
  {
    std::lock_guard lock(mutex_);
    reading = last_reading_;
  }
  std::vector<ErrorContext> context{
      {"requested_bytes", std::to_string(bytes)},
      {"available_bytes", std::to_string(reading.availability.available_bytes())},
      {"reason", reading.reason}};
  if (reading.availability.cgroup_limit_bytes) {
    context.push_back({"cgroup", reading.availability.cgroup_path});
  }
  throw Error(ErrorCategory::resource,
              "placed region refused: memory is under critical pressure (free memory or spill "
              "to disk, then retry)",
              std::move(context));
}

std::string MemoryPressureMonitor::last_action() const {
  std::lock_guard lock(mutex_);
  return last_action_;
}

std::string MemoryPressureMonitor::start_watching() {
  if (watching()) return "already watching";
  std::vector<int> triggers;
  // Unprivileged processes may arm only windows that are multiples of 2 s: the same share of
  // stall over 2 s is the fallback.
  for (const std::string& trigger : {options_.psi_trigger, std::string("some 300000 2000000")}) {
    if (int fd = arm_trigger(options_.paths.system_pressure, trigger); fd >= 0) {
      triggers.push_back(fd);
      break;
    }
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    for (int fd : triggers) ::close(fd);
    throw Error(ErrorCategory::resource, "cannot create the pressure watcher's eventfd");
  }
  const bool psi = !triggers.empty();
  check();  // a first reading, so level() is true from the start
  watcher_ = std::thread([this, t = std::move(triggers)]() mutable { watch_loop(std::move(t)); });
  return psi ? "psi trigger" : "polling";
}

void MemoryPressureMonitor::stop_watching() noexcept {
  if (!watcher_.joinable()) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  watcher_.join();
  ::close(wake_fd_);
  wake_fd_ = -1;
}

// Blocked in poll() until a trigger fires, the period passes or stop_watching() writes the
// eventfd: an idle watcher costs one wake-up per period.
void MemoryPressureMonitor::watch_loop(std::vector<int> triggers) {
  std::vector<pollfd> fds;
  fds.push_back({wake_fd_, POLLIN, 0});
  for (int fd : triggers) fds.push_back({fd, POLLPRI, 0});
  const int timeout_ms = static_cast<int>(std::max<std::int64_t>(1, options_.period.count()));
  while (true) {
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) break;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLERR | POLLNVAL)) fds[i].fd = -1;  // the file went away
    }
    try {
      check();
    } catch (const std::exception& e) {
      log::warn_once("memory-pressure-watcher",
                     std::string("memory pressure check failed: ") + e.what());
    }
  }
  for (int fd : triggers) ::close(fd);
}

}  // namespace strata
