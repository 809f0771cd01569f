// SPDX-License-Identifier: Apache-2.0
// MemAvailable from /proc/meminfo, the limits of each cgroup ancestor (v2 memory.max, v1
// memory.limit_in_bytes), PSI files and memory events: one parser for every memory reading.
#include "strata/runtime/machine/memory_availability.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace strata {
namespace {

namespace fs = std::filesystem;

// The whole of a small text file; nullopt when it cannot be read.
std::optional<std::string> read_text(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t meminfo_bytes(const std::string& text, const std::string& key) {
  std::istringstream in(text);
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

// v1 reports "no limit" as the largest page-aligned counter (9223372036854771712).
constexpr std::uint64_t kUnlimitedFrom = std::uint64_t{1} << 62;

// A cgroup file holding a number or "max"; nullopt for "max", no limit or an unreadable file.
std::optional<std::uint64_t> cgroup_number(const fs::path& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value >= kUnlimitedFrom) {
    return std::nullopt;
  }
  return value;
}

// This process's cgroup paths from /proc/self/cgroup: the v2 line ("0::/path") and the v1
// memory controller's line ("N:memory:/path" or "N:a,memory:/path").
struct OwnCgroups {
  std::optional<std::string> v2, v1_memory;
};
OwnCgroups own_cgroups(const std::string& self_cgroup) {
  OwnCgroups out;
  std::ifstream in(self_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (line.rfind("0::", 0) == 0) {
      out.v2 = path;
      continue;
    }
    std::istringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) {
      if (c == "memory") out.v1_memory = path;
    }
  }
  return out;
}

// Walks from `own` up to the hierarchy's root and keeps the ancestor with the least room.
void tightest_limit(const fs::path& base, const std::string& own, const char* limit_file,
                    const char* usage_file, int version, MemoryAvailability& out,
                    std::optional<std::uint64_t>& best_room) {
  fs::path rel = fs::path(own).relative_path();
  while (true) {
    const fs::path dir = base / rel;
    if (auto limit = cgroup_number(dir / limit_file)) {
      const std::uint64_t usage = cgroup_number(dir / usage_file).value_or(0);
      const std::uint64_t room = *limit > usage ? *limit - usage : 0;
      if (!best_room || room < *best_room) {
        best_room = room;
        out.cgroup_limit_bytes = limit;
        out.cgroup_usage_bytes = usage;
        out.cgroup_path = (fs::path("/") / rel).string();
        out.cgroup_version = version;
      }
    }
    if (rel.empty() || rel == rel.parent_path()) break;
    rel = rel.parent_path();
  }
}

// Where the v2 hierarchy is mounted: at the root (pure v2) or at "unified" (hybrid hosts).
std::optional<fs::path> v2_base(const fs::path& root) {
  std::error_code ec;
  if (fs::exists(root / "cgroup.controllers", ec)) return root;
  if (fs::exists(root / "unified" / "cgroup.controllers", ec)) return root / "unified";
  return std::nullopt;
}

}  // namespace

std::optional<MemoryPressureStall> parse_pressure_stall(std::string_view text) {
  MemoryPressureStall out;
  bool some = false;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    PressureStall* target = kind == "some" ? &out.some : kind == "full" ? &out.full : nullptr;
    if (target == nullptr) continue;
    some = some || kind == "some";
    for (std::string field; fields >> field;) {
      const auto eq = field.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = field.substr(0, eq);
      const std::string value = field.substr(eq + 1);
      try {
        if (key == "avg10") target->avg10 = std::stod(value);
        if (key == "avg60") target->avg60 = std::stod(value);
        if (key == "avg300") target->avg300 = std::stod(value);
        if (key == "total") target->total_us = std::stoull(value);
      } catch (const std::exception&) {
        // A malformed field reads as 0: the reading is advice, never a reason to fail.
      }
    }
  }
  if (!some) return std::nullopt;
  return out;
}

MemoryEvents parse_memory_events(std::string_view text) {
  MemoryEvents out;
  std::istringstream in{std::string(text)};
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "low") out.low = value;
    if (key == "high") out.high = value;
    if (key == "max") out.max = value;
    if (key == "oom") out.oom = value;
    if (key == "oom_kill") out.oom_kill = value;
  }
  return out;
}

std::uint64_t MemoryAvailability::available_bytes() const noexcept {
  std::uint64_t avail = mem_available_bytes;
  if (cgroup_limit_bytes) {
    std::uint64_t usage = cgroup_usage_bytes.value_or(0);
    std::uint64_t room = *cgroup_limit_bytes > usage ? *cgroup_limit_bytes - usage : 0;
    avail = std::min(avail, room);
  }
  return avail;
}

std::uint64_t MemoryAvailability::limit_bytes() const noexcept {
  return std::min(mem_total_bytes, cgroup_limit_bytes.value_or(mem_total_bytes));
}

MemoryAvailability read_memory_availability(const MemoryInfoPaths& paths) {
  MemoryAvailability out;
  if (auto text = read_text(paths.meminfo)) {
    out.mem_total_bytes = meminfo_bytes(*text, "MemTotal");
    out.mem_available_bytes = meminfo_bytes(*text, "MemAvailable");
  }
  if (auto text = read_text(paths.system_pressure))
    out.system_pressure = parse_pressure_stall(*text);
  const fs::path root(paths.cgroup_root);
  const OwnCgroups own = own_cgroups(paths.self_cgroup);
  std::optional<std::uint64_t> best_room;
  if (own.v2) {
    if (auto base = v2_base(root)) {
      tightest_limit(*base, *own.v2, "memory.max", "memory.current", 2, out, best_room);
      const fs::path dir = *base / fs::path(*own.v2).relative_path();
      out.cgroup_high_bytes = cgroup_number(dir / "memory.high");
      if (auto text = read_text(dir / "memory.pressure")) {
        out.cgroup_pressure = parse_pressure_stall(*text);
      }
      if (auto text = read_text(dir / "memory.events"))
        out.cgroup_events = parse_memory_events(*text);
    }
  }
  if (own.v1_memory) {
    const fs::path base = root / "memory";
    tightest_limit(base, *own.v1_memory, "memory.limit_in_bytes", "memory.usage_in_bytes", 1, out,
                   best_room);
    const fs::path dir = base / fs::path(*own.v1_memory).relative_path();
    if (!out.cgroup_events) {
      if (auto text = read_text(dir / "memory.oom_control")) {
        MemoryEvents events = parse_memory_events(*text);
        events.max = cgroup_number(dir / "memory.failcnt").value_or(0);
        out.cgroup_events = events;
      }
    }
  }
  return out;
}

MemoryAvailability read_memory_availability(const std::string& meminfo,
                                            const std::string& cgroup_root,
                                            const std::string& self_cgroup) {
  return read_memory_availability(MemoryInfoPaths{.meminfo = meminfo,
                                                  .cgroup_root = cgroup_root,
                                                  .self_cgroup = self_cgroup,
                                                  .system_pressure = "/proc/pressure/memory"});
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
