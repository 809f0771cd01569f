// SPDX-License-Identifier: Apache-2.0
// Runtime: the order of start-up matters — Slurm variables are validated before MPI starts (a
// malformed job environment fails fast), the log learns the rank before anything is said, and the
// topology is loaded before threads exist so the process affinity read is the launcher's.
#include "strata/runtime/cluster/runtime.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cluster/uncaught_error.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata {
namespace {

Topology load_topology(const RuntimeOptions& options) {
  if (options.synthetic_topology) return Topology::synthetic(*options.synthetic_topology);
  return Topology::load();
}

int& no_argc() {
  static int argc = 0;
  return argc;
}

char**& no_argv() {
  static char** argv = nullptr;
  return argv;
}

// "0.005", "12.3": three significant digits, for the lead-time advice.
std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", seconds);
  return text;
}

// STRATA_SIGNAL_LEAD_SECONDS: the --signal lead time the batch script asked Slurm for.
std::optional<double> signal_lead_from_environment() {
  const char* text = std::getenv("STRATA_SIGNAL_LEAD_SECONDS");
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double seconds = std::strtod(text, &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(seconds) || seconds < 0) {
    throw Error(ErrorCategory::config, "not a lead time in seconds",
                {{"variable", "STRATA_SIGNAL_LEAD_SECONDS"}, {"value", text}});
  }
  return seconds;
}

// The job's environment, checked before MPI starts so that a malformed one fails fast: the Slurm
// variables, and STRATA_SIGNAL_LEAD_SECONDS (read again, unchanged, after MPI is up).
SlurmEnv validated_job_environment() {
  SlurmEnv slurm = SlurmEnv::from_environment();
  signal_lead_from_environment();
  return slurm;
}

}  // namespace

Runtime::Runtime(int& argc, char**& argv, RuntimeOptions options)
    : slurm_(validated_job_environment()),
      mpi_(argc, argv, options.mpi_start),
      topology_((log::set_rank(mpi_.size() > 1 ? mpi_.rank() : -1), load_topology(options))),
      memory_(topology_),
      signal_lead_seconds_(signal_lead_from_environment()) {
  if (options.install_stop_signals) stop_signals_.emplace();
  if (options.watch_memory_pressure) memory_.pressure().start_watching();
  detail::install_uncaught_error_handler();
}

Runtime::Runtime(RuntimeOptions options) : Runtime(no_argc(), no_argv(), std::move(options)) {}

bool Runtime::stop_requested() const noexcept {
  return stop_signals_ && stop_signals_->stop_requested();
}

int Runtime::stop_signal() const noexcept { return stop_signals_ ? stop_signals_->stop_signal() : 0; }

bool Runtime::stop_requested_anywhere() const {
  // Polled once per step: the interval between polls is how long the job may take to notice a
  // stop signal, which the lead time must cover (lead_seconds_needed).
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
  if (last_stop_poll_ns_ != 0) {
    slowest_step_seconds_ =
        std::max(slowest_step_seconds_, static_cast<double>(now_ns - last_stop_poll_ns_) * 1e-9);
  }
  last_stop_poll_ns_ = now_ns;
  if (mpi_.size() == 1) return stop_requested();
  return mpi_.allreduce_or(stop_requested());
}

int Runtime::exit_for_requeue() const {
  std::string message = "stopping for requeue (exit code ";
  message += std::to_string(kExitRequeue);
  message += ")";
  if (slurm_.in_job) {
    message += ", Slurm job ";
    message += std::to_string(slurm_.job_id);
    message += " restart count ";
    message += std::to_string(slurm_.restart_count);
  }
  if (mpi_.rank() == 0) log::write(log::Level::warn, message);
  return kExitRequeue;
}

double Runtime::lead_seconds_needed() const noexcept {
  return kLeadSafetyFactor * (slowest_step_seconds_ + 2 * slowest_checkpoint_seconds_) +
         kLeadExitSeconds;
}

void Runtime::note_checkpoint_seconds(double seconds) {
  last_checkpoint_seconds_ = seconds;
  slowest_checkpoint_seconds_ = std::max(slowest_checkpoint_seconds_, seconds);
  if (!signal_lead_seconds_ || lead_warning_given_ || mpi_.rank() != 0) return;
  if (*signal_lead_seconds_ >= lead_seconds_needed()) return;
  lead_warning_given_ = true;
  std::string message = "the stop-signal lead time (STRATA_SIGNAL_LEAD_SECONDS=";
  message += std::to_string(static_cast<long>(*signal_lead_seconds_));
  message += " s) is shorter than this job needs to stop cleanly (steps of up to ";
  message += seconds_text(slowest_step_seconds_);
  message += " s, checkpoints of up to ";
  message += seconds_text(slowest_checkpoint_seconds_);
  message += " s): ask for --signal=B:USR1@";
  message += std::to_string(static_cast<long>(std::ceil(lead_seconds_needed())));
  message += " or more";
  log::write(log::Level::warn, message);
}

}  // namespace strata
