// SPDX-License-Identifier: Apache-2.0
// Progress of long work on stderr. Workers count what they finished into a Progress (one relaxed
// atomic add, from any thread); a ProgressReport's own thread reads it and prints: a bar redrawn
// on a terminal, and in a log file (stderr not a terminal) one line every interval or every
// tenth of the work with percent, rate and time left. Work that ends within the first second
// prints nothing; only rank 0 of a job prints.
//
//   strata::Progress progress(total_bytes);
//   strata::ProgressReport report("import x.strata", progress, {.enabled = !quiet});
//   tbb::parallel_for(..., [&](auto chunk) { work(chunk); progress.add(chunk.size()); });
//   report.finish();                      // the last line; an exception skips it
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace strata {

// Bytes (or any unit) done out of a total, shared by the threads doing the work.
class Progress {
 public:
  explicit Progress(std::uint64_t total = 0) noexcept : total_(total) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Work found after the start (another array, a region), added to the total.
  void add_total(std::uint64_t more) noexcept { total_.fetch_add(more, std::memory_order_relaxed); }
  // Called by any thread when it finished `done` more units; lock-free.
  void add(std::uint64_t done) noexcept { done_.fetch_add(done, std::memory_order_relaxed); }
  std::uint64_t done() const noexcept { return done_.load(std::memory_order_relaxed); }
  std::uint64_t total() const noexcept { return total_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::uint64_t> total_{0};
};

struct ProgressReportOptions {
  // False prints nothing (a command's --quiet).
  bool enabled = true;
  // This process's rank in a job; only rank 0 prints. Unset: read from the launcher's
  // environment (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, or SLURM_PROCID inside a job step).
  std::optional<int> rank;
  // Draw a bar (true) or print lines (false). Unset: a bar when stderr is a terminal.
  std::optional<bool> terminal;
  // Seconds between lines when printing lines (a line is also printed at every further tenth of
  // the work). Unset: STRATA_PROGRESS_SECONDS if set (a positive number), else 10. The report
  // stays silent for the first min(1 s, interval).
  std::optional<double> interval_seconds;
};

// Prints a Progress on stderr from its own thread while it lives. Each line is one write(2), so
// lines of other threads are never cut. Error(config) for a malformed STRATA_PROGRESS_SECONDS.
class ProgressReport {
 public:
  ProgressReport(std::string label, const Progress& progress, ProgressReportOptions options = {});
  ~ProgressReport();  // stops the thread; after an exception, ends a bar's line without "100%"
  ProgressReport(const ProgressReport&) = delete;
  ProgressReport& operator=(const ProgressReport&) = delete;

  // The work is complete: when anything was printed, prints the final state (total, time and
  // rate) and ends the line; then stops. Later calls do nothing.
  void finish();

  // Whether this report prints at all (enabled, rank 0).
  bool active() const noexcept { return active_; }

 private:
  void run();
  void print(bool final_state);

  std::string label_;
  const Progress& progress_;
  bool active_ = false;
  bool terminal_ = false;
  double interval_seconds_ = 10;
  double silent_seconds_ = 1;
  std::int64_t start_ns_ = 0;
  // Reporter state (its thread, and finish() after joining it).
  bool printed_ = false;
  std::int64_t last_line_ns_ = 0;
  int last_tenth_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool finished_ = false;
  std::thread thread_;
};

}  // namespace strata
