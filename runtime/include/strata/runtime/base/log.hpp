// SPDX-License-Identifier: Apache-2.0
// The runtime's log: one line per message on stderr, prefixed with the rank, so the interleaved
// output of many ranks in a Slurm job log stays readable. The level comes from STRATA_LOG
// (debug, info, warn, error, off; default warn).
//
//   strata::log::warn("huge pages unavailable, using 4 KiB pages");
//   strata::log::warn_once("synthetic-binding", "binding skipped: topology is synthetic");
#pragma once

#include <string_view>

namespace strata::log {

enum class Level { debug, info, warn, error, off };

Level level() noexcept;
void set_level(Level level) noexcept;
// Parses "debug" | "info" | "warn" | "error" | "off"; throws Error(config) on anything else.
Level parse_level(std::string_view text);
// The rank shown in the prefix ("strata[3] warn: ..."); -1 (the default) shows no rank.
void set_rank(int rank) noexcept;

void write(Level level, std::string_view message);
inline void debug(std::string_view m) { write(Level::debug, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void warn(std::string_view m) { write(Level::warn, m); }
inline void error(std::string_view m) { write(Level::error, m); }
// Warns the first time `key` is seen in this process and stays silent after; returns whether it
// wrote. For conditions that hold for the whole run (a fallback taken), not for each occurrence.
bool warn_once(std::string_view key, std::string_view message);

}  // namespace strata::log
