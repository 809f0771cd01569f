// SPDX-License-Identifier: Apache-2.0
// How much memory this process can still take without inviting the OOM killer, and how hard the
// kernel is working to find it: MemAvailable, bounded by every cgroup limit above the process
// (cgroup v2 memory.max - memory.current, or v1 memory.limit_in_bytes - memory.usage_in_bytes on
// hybrid hosts where the memory controller is still v1), Linux pressure stall information (PSI,
// /proc/pressure/memory and the cgroup's memory.pressure) and the cgroup's memory events. One
// parser for all of it; MemoryPressureMonitor turns a reading into a level and acts on it.
//
//   auto avail = strata::read_memory_availability();
//   if (bytes > avail.available_bytes()) refuse();
//   if (avail.system_pressure && avail.system_pressure->some.avg10 > 10) slow_down();
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strata/runtime/base/error.hpp"

namespace strata {

// One line of a PSI file: the share of wall time (percent) in which tasks stalled on memory,
// averaged over 10, 60 and 300 s, and the total stall time in microseconds.
struct PressureStall {
  double avg10 = 0, avg60 = 0, avg300 = 0;
  std::uint64_t total_us = 0;
};
// A PSI file: "some" (at least one task stalled) and "full" (all non-idle tasks stalled).
struct MemoryPressureStall {
  PressureStall some, full;
};
// Parses the text of /proc/pressure/memory or a cgroup's memory.pressure; nullopt when it has no
// "some" line (a kernel without PSI, or psi=0).
std::optional<MemoryPressureStall> parse_pressure_stall(std::string_view text);

// Counters of a cgroup's memory.events (v2), or their v1 equivalents: `max` from
// memory.failcnt, `oom_kill` from memory.oom_control.
struct MemoryEvents {
  std::uint64_t low = 0, high = 0, max = 0, oom = 0, oom_kill = 0;
};
// Parses "key value" lines (memory.events, memory.oom_control); unknown keys are ignored.
MemoryEvents parse_memory_events(std::string_view text);

struct MemoryAvailability {
  std::uint64_t mem_total_bytes = 0;      // /proc/meminfo MemTotal
  std::uint64_t mem_available_bytes = 0;  // /proc/meminfo MemAvailable
  // The tightest cgroup limit on the path to this process, and that cgroup's usage; absent when
  // no ancestor sets one.
  std::optional<std::uint64_t> cgroup_limit_bytes;
  std::optional<std::uint64_t> cgroup_usage_bytes;
  std::string cgroup_path;  // the cgroup whose limit is tightest
  int cgroup_version = 0;   // of that limit: 2 (memory.max) or 1 (memory.limit_in_bytes)
  // memory.high of the process's own v2 cgroup, where set: reclaim is forced above it.
  std::optional<std::uint64_t> cgroup_high_bytes;
  // PSI of the whole machine and of the process's v2 cgroup, where the kernel has them.
  std::optional<MemoryPressureStall> system_pressure;
  std::optional<MemoryPressureStall> cgroup_pressure;
  // The memory events of the process's cgroup (v2 memory.events, or v1's equivalents).
  std::optional<MemoryEvents> cgroup_events;

  // min(MemAvailable, limit - usage).
  std::uint64_t available_bytes() const noexcept;
  // What `available_bytes` is a part of: min(MemTotal, the cgroup limit).
  std::uint64_t limit_bytes() const noexcept;
};

// Where read_memory_availability looks; tests point it at fixture trees.
struct MemoryInfoPaths {
  std::string meminfo = "/proc/meminfo";
  std::string cgroup_root = "/sys/fs/cgroup";  // v2 at the root, or v1 hierarchies + "unified"
  std::string self_cgroup = "/proc/self/cgroup";
  std::string system_pressure = "/proc/pressure/memory";
};

// Reads /proc/meminfo, PSI and the cgroup hierarchy (v2, v1, or both on a hybrid host) of this
// process. Never throws for a missing file: what cannot be read stays unset.
MemoryAvailability read_memory_availability(const MemoryInfoPaths& paths = {});
// The same with the three paths older callers give.
MemoryAvailability read_memory_availability(const std::string& meminfo,
                                            const std::string& cgroup_root,
                                            const std::string& self_cgroup);

// The process's address-space limit (RLIMIT_AS, `ulimit -v`) in bytes; nullopt when unlimited.
std::optional<std::uint64_t> address_space_limit_bytes() noexcept;

// Error(resource) for an allocation that failed (std::bad_alloc, ENOMEM) while doing `what`,
// naming the address-space limit when one is set: under `ulimit -v` that limit, not the
// machine's memory, is what ran out.
Error out_of_memory_error(const std::string& what);

}  // namespace strata
