// SPDX-License-Identifier: Apache-2.0
// MemAvailable from /proc/meminfo and memory.max/memory.current of each cgroup v2 ancestor.
#include "strata/runtime/machine/memory_availability.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace strata {
namespace {

std::uint64_t meminfo_bytes(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream fields(line.substr(key.size() + 1));
      std::uint64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

// A cgroup file holding a number or "max"; nullopt for "max" or an unreadable file.
std::optional<std::uint64_t> cgroup_number(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The cgroup v2 path of this process ("0::/some/path" line), or "" if none.
std::string own_cgroup(const std::string& self_cgroup) {
  std::ifstream in(self_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

}  // namespace

std::uint64_t MemoryAvailability::available_bytes() const noexcept {
  std::uint64_t avail = mem_available_bytes;
  if (cgroup_limit_bytes) {
    std::uint64_t usage = cgroup_usage_bytes.value_or(0);
    std::uint64_t room = *cgroup_limit_bytes > usage ? *cgroup_limit_bytes - usage : 0;
    avail = std::min(avail, room);
  }
  return avail;
}

MemoryAvailability read_memory_availability(const std::string& meminfo,
                                            const std::string& cgroup_root,
                                            const std::string& self_cgroup) {
  MemoryAvailability out;
  out.mem_total_bytes = meminfo_bytes(meminfo, "MemTotal");
  out.mem_available_bytes = meminfo_bytes(meminfo, "MemAvailable");
  std::string own = own_cgroup(self_cgroup);
  if (own.empty()) return out;
  // Walk from the process's cgroup up to the root; any ancestor's limit applies.
  std::filesystem::path rel = std::filesystem::path(own).relative_path();
  std::optional<std::uint64_t> best_room;
  while (true) {
    std::filesystem::path dir = std::filesystem::path(cgroup_root) / rel;
    if (auto limit = cgroup_number(dir / "memory.max")) {
      std::uint64_t usage = cgroup_number(dir / "memory.current").value_or(0);
      std::uint64_t room = *limit > usage ? *limit - usage : 0;
      if (!best_room || room < *best_room) {
        best_room = room;
        out.cgroup_limit_bytes = limit;
        out.cgroup_usage_bytes = usage;
        out.cgroup_path = (std::filesystem::path("/") / rel).string();
      }
    }
    if (rel.empty() || rel == rel.parent_path()) break;
    rel = rel.parent_path();
  }
  return out;
}

std::optional<std::uint64_t> address_space_limit_bytes() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

Error out_of_memory_error(const std::string& what) {
  std::vector<ErrorContext> context;
  std::string message = "out of memory while " + what;
  if (auto limit = address_space_limit_bytes()) {
    message += "; the address-space limit (ulimit -v) is the likely cause";
    context.push_back({"address_space_limit_bytes", std::to_string(*limit)});
  }
  return Error(ErrorCategory::resource, std::move(message), std::move(context));
}

}  // namespace strata
