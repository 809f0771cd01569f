// SPDX-License-Identifier: Apache-2.0
// The runtime's stderr log: level from STRATA_LOG, rank prefix, one write(2)-sized line per
// message under a mutex so lines from threads never interleave.
#include "strata/runtime/base/log.hpp"

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <set>
#include <string>

#include "strata/runtime/base/error.hpp"

namespace strata::log {
namespace {

Level initial_level() {
  const char* env = std::getenv("STRATA_LOG");
  if (env == nullptr || *env == '\0') return Level::warn;
  try {
    return parse_level(env);
  } catch (const Error&) {
    std::cerr << "strata warn: STRATA_LOG=" << env
              << " is not one of debug|info|warn|error|off; using warn\n";
    return Level::warn;
  }
}

std::atomic<Level>& current_level() {
  static std::atomic<Level> value{initial_level()};
  return value;
}

std::atomic<int> shown_rank{-1};
std::mutex write_mutex;

std::string_view level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "?";
}

}  // namespace

Level level() noexcept { return current_level().load(std::memory_order_relaxed); }
void set_level(Level l) noexcept { current_level().store(l, std::memory_order_relaxed); }
void set_rank(int rank) noexcept { shown_rank.store(rank, std::memory_order_relaxed); }

Level parse_level(std::string_view text) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error, Level::off}) {
    if (text == level_name(l)) return l;
  }
  throw Error(ErrorCategory::config, "unknown log level (use debug, info, warn, error or off)",
              {{"value", std::string(text)}});
}

void write(Level l, std::string_view message) {
  if (l == Level::off || l < level()) return;
  std::string line = "strata";
  if (int rank = shown_rank.load(std::memory_order_relaxed); rank >= 0) {
    line += '[' + std::to_string(rank) + ']';
  }
  line += ' ';
  line += level_name(l);
  line += ": ";
  line += message;
  line += '\n';
  std::lock_guard lock(write_mutex);
  std::cerr << line << std::flush;
}

bool warn_once(std::string_view key, std::string_view message) {
  static std::mutex seen_mutex;
  static std::set<std::string, std::less<>> seen;
  {
    std::lock_guard lock(seen_mutex);
    if (!seen.emplace(key).second) return false;
  }
  write(Level::warn, message);
  return true;
}

}  // namespace strata::log
