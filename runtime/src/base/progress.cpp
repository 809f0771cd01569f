// SPDX-License-Identifier: Apache-2.0
// The progress reporter: a thread that samples a Progress and writes a bar or log lines to stderr.
#include "strata/runtime/base/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "strata/runtime/base/byte_text.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The rank the launcher gave this process, or 0 outside a launcher.
int rank_from_launcher() {
  auto read = [](const char* name) -> std::optional<int> {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return std::nullopt;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*end != '\0' || value < 0) return std::nullopt;
    return static_cast<int>(value);
  };
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (auto rank = read(name)) return *rank;
  }
  if (std::getenv("SLURM_STEP_ID") != nullptr) return read("SLURM_PROCID").value_or(0);
  return 0;
}

double interval_from_environment() {
  const char* text = std::getenv("STRATA_PROGRESS_SECONDS");
  if (text == nullptr || *text == '\0') return 10;
  char* end = nullptr;
  errno = 0;
  const double seconds = std::strtod(text, &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(seconds) || seconds <= 0) {
    throw Error(ErrorCategory::config, "not a positive number of seconds",
                {{"variable", "STRATA_PROGRESS_SECONDS"}, {"value", text}});
  }
  return seconds;
}

// "0.4 s", "42 s", "3 min 5 s", "2 h 10 min".
std::string duration_text(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char text[48];
  if (seconds < 9.95) {
    std::snprintf(text, sizeof text, "%.1f s", std::max(0.0, seconds));
  } else if (s < 60) {
    std::snprintf(text, sizeof text, "%lld s", s);
  } else if (s < 3600) {
    std::snprintf(text, sizeof text, "%lld min %lld s", s / 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld h %lld min", s / 3600, (s % 3600) / 60);
  }
  return text;
}

void write_stderr(const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(2, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed stderr is no reason to fail the work
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

ProgressReport::ProgressReport(std::string label, const Progress& progress,
                               ProgressReportOptions options)
    : label_(std::move(label)), progress_(progress) {
  interval_seconds_ = options.interval_seconds.value_or(interval_from_environment());
  silent_seconds_ = std::min(1.0, interval_seconds_);
  active_ = options.enabled && options.rank.value_or(rank_from_launcher()) == 0;
  terminal_ = options.terminal.value_or(::isatty(2) != 0);
  start_ns_ = now_ns();
  last_line_ns_ = start_ns_;
  if (active_) thread_ = std::thread([this] { run(); });
}

ProgressReport::~ProgressReport() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!finished_ && printed_ && terminal_) write_stderr("\n");  // the error starts a fresh line
}

void ProgressReport::finish() {
  if (finished_) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  finished_ = true;
  if (printed_) print(true);
}

void ProgressReport::run() {
  // A bar is redrawn ten times a second; lines are checked as often, printed when due.
  const auto tick = std::chrono::duration<double>(
      terminal_ ? 0.1 : std::min(0.1, std::max(0.01, interval_seconds_ / 4)));
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, tick, [this] { return stop_; })) {
    const std::int64_t now = now_ns();
    if (static_cast<double>(now - start_ns_) * 1e-9 < silent_seconds_) continue;
    if (terminal_) {
      print(false);
      continue;
    }
    const std::uint64_t total = progress_.total();
    const int tenth = total > 0 ? static_cast<int>(10.0 * static_cast<double>(progress_.done()) /
                                                   static_cast<double>(total))
                                : 0;
    if (!printed_ || static_cast<double>(now - last_line_ns_) * 1e-9 >= interval_seconds_ ||
        tenth > last_tenth_) {
      print(false);
      last_line_ns_ = now;
      last_tenth_ = tenth;
    }
  }
}

void ProgressReport::print(bool final_state) {
  const std::uint64_t total = progress_.total();
  const std::uint64_t done = final_state ? std::max(progress_.done(), total) : progress_.done();
  const double seconds = static_cast<double>(now_ns() - start_ns_) * 1e-9;
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  const double fraction =
      total > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0;
  char percent[16];
  std::snprintf(percent, sizeof percent, terminal_ ? "%3d%%" : "%d%%",
                static_cast<int>(fraction * 100));
  std::string amount = format_bytes(done);
  if (total > 0) amount += " / " + format_bytes(total);
  std::string timing = format_bytes(static_cast<std::uint64_t>(rate)) + "/s";
  if (final_state) {
    timing += " in " + duration_text(seconds);
  } else if (total > 0 && rate > 0 && done < total) {
    timing += ", ETA " + duration_text(static_cast<double>(total - done) / rate);
  }
  std::string text;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    text = "\r" + label_ + " [" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(kWidth - filled), ' ') + "] " +
           (total > 0 ? std::string(percent) + " " : "") + amount + ", " + timing + "\x1b[K";
    if (final_state) text += "\n";
  } else {
    text = label_ + ": " + (total > 0 ? std::string(percent) + " " : "") + amount + ", " + timing +
           "\n";
  }
  write_stderr(text);
  printed_ = true;
}

}  // namespace strata
