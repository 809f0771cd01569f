// SPDX-License-Identifier: Apache-2.0
// MemoryPressureMonitor: turns memory readings (MemAvailable, cgroup limits and events, PSI)
// into a level — none, moderate, critical — and acts on a rise: it trims the pools' free spans,
// shrinks the mapped-view caches it watches, refuses new placed regions while critical, and
// logs once per episode what it did. A thread waits on a PSI trigger (or polls where the kernel
// has none); between readings MemoryManager re-reads at region allocation when the last
// reading is stale.
//
//   strata::MemoryPressureMonitor& m = rt.memory().pressure();
//   auto sub = m.watch(view_cache);                        // shrink it on pressure
//   if (m.level() == strata::MemoryPressureLevel::critical) spill_to_disk();
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "strata/runtime/machine/memory_availability.hpp"

namespace strata {

class MappedViewCache;
class NumaPool;

enum class MemoryPressureLevel : std::uint8_t { none, moderate, critical };
std::string_view to_string(MemoryPressureLevel level) noexcept;

// When a reading counts as pressure. Any one condition is enough; defaults are what a job that
// shares a node can live with: below 10 % of the limit (MemTotal or the cgroup's, whichever is
// lower) left, or tasks stalled on memory 10 % of the last 10 s, the job should give back what
// it does not use; below 3 % left, all tasks stalled 10 % of the time, or the cgroup hitting its
// limit, new big allocations would invite the OOM killer.
struct MemoryPressureThresholds {
  double moderate_available_fraction = 0.10;
  double critical_available_fraction = 0.03;
  double moderate_some_avg10 = 10.0;  // PSI "some" avg10, percent (machine or cgroup)
  double critical_full_avg10 = 10.0;  // PSI "full" avg10, percent
};

struct MemoryPressureReading {
  MemoryPressureLevel level = MemoryPressureLevel::none;
  std::string reason;  // which condition set the level ("" for none)
  MemoryAvailability availability;
};

// The level of one reading. `previous_events`: the cgroup's events at the last reading; a new
// `max` or `oom_kill` event since then is critical, a new `high` event moderate.
MemoryPressureReading assess_memory_pressure(MemoryAvailability availability,
                                             const MemoryPressureThresholds& thresholds,
                                             const std::optional<MemoryEvents>& previous_events);

struct MemoryPressureOptions {
  MemoryPressureThresholds thresholds;
  // A reading older than this is stale: the watcher re-reads at least this often, and an
  // allocation of a placed region re-reads when no watcher runs.
  std::chrono::milliseconds period{1000};
  // While the level stays raised, the responders run again after this long.
  std::chrono::milliseconds repeat_after{10'000};
  // The PSI trigger the watcher arms: a wake-up when tasks stall this many microseconds within
  // the window (the kernel's minimum window is 500 ms; unprivileged users need multiples of 2 s,
  // so where this one is refused the watcher tries "some 300000 2000000").
  std::string psi_trigger = "some 150000 1000000";
  MemoryInfoPaths paths;
};

class MemoryPressureMonitor {
 public:
  // Gives back memory at `level`; returns what it did in a few words ("" for nothing).
  using Responder = std::function<std::string(MemoryPressureLevel level)>;

  // Unregisters its responder when destroyed.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept { *this = std::move(other); }
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription();

   private:
    friend class MemoryPressureMonitor;
    MemoryPressureMonitor* monitor_ = nullptr;
    std::uint64_t id_ = 0;
  };

  explicit MemoryPressureMonitor(MemoryPressureOptions options = {});
  MemoryPressureMonitor(const MemoryPressureMonitor&) = delete;
  MemoryPressureMonitor& operator=(const MemoryPressureMonitor&) = delete;
  // Stops the watcher. Subscriptions must be gone first.
  ~MemoryPressureMonitor();

  // `responder` runs (on the thread that found the pressure) when the level rises, and again
  // every repeat_after while it stays raised.
  [[nodiscard]] Subscription on_pressure(std::string name, Responder responder);
  // Pools trim their free spans (NumaPool::trim).
  [[nodiscard]] Subscription watch(NumaPool& pool);
  // View caches unmap what nobody holds: down to half their budget when moderate, all when
  // critical (MappedViewCache::shrink).
  [[nodiscard]] Subscription watch(MappedViewCache& cache);

  // The level of the last reading (one atomic load).
  MemoryPressureLevel level() const noexcept { return level_.load(std::memory_order_relaxed); }
  // Reads now, updates the level and runs the responders if it rose (or is still raised after
  // repeat_after). Thread-safe; returns the reading.
  MemoryPressureReading check();
  // check() when the last reading is older than the period; else nothing (one clock read).
  void check_if_stale();
  // Refuses a new placed region of `bytes` with Error(resource) while the level is critical,
  // naming the reason and what is left; re-reads first when the reading is stale.
  void admit_region(std::size_t bytes);

  // Starts the watcher thread: it waits on a PSI trigger on /proc/pressure/memory when the
  // kernel accepts one (the cgroup's files, MemAvailable and the limits are read on every wake),
  // wakes at least every period, and calls check(). Idempotent. Returns how it watches
  // ("psi trigger" or "polling"). Throws Error(resource) when no eventfd can be made.
  std::string start_watching();
  void stop_watching() noexcept;
  bool watching() const noexcept { return watcher_.joinable(); }

  // What the responders did at the last rise ("" before any).
  std::string last_action() const;
  // Readings taken so far (by the watcher, allocations and explicit checks).
  std::uint64_t readings() const noexcept { return readings_.load(std::memory_order_relaxed); }
  const MemoryPressureOptions& options() const noexcept { return options_; }

 private:
  struct Entry {
    std::uint64_t id;
    std::string name;
    Responder responder;
  };
  void unsubscribe(std::uint64_t id) noexcept;
  void watch_loop(std::vector<int> triggers);

  MemoryPressureOptions options_;
  std::atomic<MemoryPressureLevel> level_{MemoryPressureLevel::none};
  std::atomic<std::int64_t> last_reading_ns_{0};  // steady clock; 0 before the first
  std::atomic<std::uint64_t> readings_{0};
  mutable std::mutex mutex_;  // the fields below, and one check at a time
  std::vector<Entry> entries_;
  std::uint64_t next_id_ = 1;
  std::optional<MemoryEvents> last_events_;
  MemoryPressureReading last_reading_;
  std::chrono::steady_clock::time_point last_action_time_{};
  std::string last_action_;
  std::thread watcher_;
  int wake_fd_ = -1;  // eventfd that ends the watcher's wait
};

}  // namespace strata
