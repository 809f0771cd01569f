// SPDX-License-Identifier: Apache-2.0
// How much memory this process can still take without inviting the OOM killer: the kernel's
// MemAvailable, bounded by every cgroup v2 limit above the process (memory.max - memory.current),
// which is what Slurm's task/cgroup and container runtimes set.
//
//   auto avail = strata::read_memory_availability();
//   if (bytes > avail.available_bytes()) refuse();
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "strata/runtime/base/error.hpp"

namespace strata {

struct MemoryAvailability {
  std::uint64_t mem_total_bytes = 0;      // /proc/meminfo MemTotal
  std::uint64_t mem_available_bytes = 0;  // /proc/meminfo MemAvailable
  // The tightest cgroup v2 limit on the path to this process, and that cgroup's usage;
  // absent when no ancestor sets memory.max.
  std::optional<std::uint64_t> cgroup_limit_bytes;
  std::optional<std::uint64_t> cgroup_usage_bytes;
  std::string cgroup_path;  // the cgroup whose limit is tightest

  // min(MemAvailable, limit - usage).
  std::uint64_t available_bytes() const noexcept;
};

// Reads /proc/meminfo and the cgroup v2 hierarchy of this process. The paths exist for tests.
MemoryAvailability read_memory_availability(const std::string& meminfo = "/proc/meminfo",
                                            const std::string& cgroup_root = "/sys/fs/cgroup",
                                            const std::string& self_cgroup = "/proc/self/cgroup");

// The process's address-space limit (RLIMIT_AS, `ulimit -v`) in bytes; nullopt when unlimited.
std::optional<std::uint64_t> address_space_limit_bytes() noexcept;

// Error(resource) for an allocation that failed (std::bad_alloc, ENOMEM) while doing `what`,
// naming the address-space limit when one is set: under `ulimit -v` that limit, not the
// machine's memory, is what ran out.
Error out_of_memory_error(const std::string& what);

}  // namespace strata
