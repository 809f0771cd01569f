// SPDX-License-Identifier: Apache-2.0
// Runtime: the first object a strata program creates. It joins the MPI job when a launcher started
// the process (else it is rank 0 of 1 without starting MPI), reads the Slurm environment, loads
// the topology and installs the stop-signal handlers; every other strata object (Executor,
// Dataset, Checkpointer) is built from it and passed by reference.
// It also installs, for the rest of the process, a std::terminate handler: an exception nobody
// catches (a strata::Error from a file the job could not read) prints one line
// "<program>: error: <category>: <message> (<context>)" and ends the process with exit code 1,
// or the whole job through MPI_Abort(1) when it has several ranks — no backtrace. Catching
// errors in main (as examples/analysis does) stays the way to choose the message and exit code.
//
//   int main(int argc, char** argv) {
//     strata::Runtime rt(argc, argv);
//     double total = rt.mpi().allreduce_sum(local);
//     while (!rt.stop_requested()) step();
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "strata/runtime/cluster/mpi_context.hpp"
#include "strata/runtime/cluster/slurm_env.hpp"
#include "strata/runtime/cluster/stop_signals.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/memory_manager.hpp"

namespace strata {

// Exit code of a job that checkpointed because a stop was requested and wants to run again
// (EX_TEMPFAIL of sysexits.h, "temporary failure, retry"). slurm/simulation.sbatch requeues the
// job when its step ends with it; any other code ends the job.
inline constexpr int kExitRequeue = 75;

struct RuntimeOptions {
  // Install SIGUSR1/SIGTERM handlers feeding stop_requested(). Off for programs that own signals.
  bool install_stop_signals = true;
  // Load this synthetic topology instead of the machine (tests, what-if planning); when unset,
  // HWLOC_SYNTHETIC / HWLOC_XMLFILE are honoured, else the real machine is loaded.
  std::optional<std::string> synthetic_topology;
  // When MPI starts (MpiStart): by default only under a launcher (mpirun, srun) or with
  // STRATA_MPI=always; `always` makes a directly started program an MPI singleton.
  MpiStart mpi_start = MpiStart::when_launched;
  // Start the memory-pressure watcher (a thread blocked on a PSI trigger; see
  // MemoryPressureMonitor): on pressure the pools are trimmed and new placed regions refused.
  bool watch_memory_pressure = true;
};

class Runtime {
 public:
  // Throws strata::Error when the environment is malformed (bad Slurm variables, invalid
  // synthetic topology) or MPI cannot start.
  Runtime(int& argc, char**& argv, RuntimeOptions options = {});
  explicit Runtime(RuntimeOptions options = {});
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int rank() const noexcept { return mpi_.rank(); }
  int size() const noexcept { return mpi_.size(); }
  MpiContext& mpi() noexcept { return mpi_; }
  const MpiContext& mpi() const noexcept { return mpi_; }
  const Topology& topology() const noexcept { return topology_; }
  const SlurmEnv& slurm() const noexcept { return slurm_; }
  // Where arrays and large buffers come from: placed per NUMA node, huge pages, statistics.
  MemoryManager& memory() noexcept { return memory_; }
  const MemoryManager& memory() const noexcept { return memory_; }

  // Merges a partial result across all ranks (see MpiContext::allreduce).
  template <class T>
    requires Mergeable<T> || SerializableMergeable<T>
  T allreduce(const T& mine) const {
    return mpi_.allreduce(mine);
  }

  // True once SIGUSR1 or SIGTERM arrived (always false when stop signals are not installed).
  bool stop_requested() const noexcept;
  int stop_signal() const noexcept;
  // Collective: true on every rank when a stop was requested on any rank. Signals reach ranks at
  // slightly different moments; a job that checkpoints on a stop must decide on this, not on
  // stop_requested(), or ranks would enter the checkpoint at different steps.
  bool stop_requested_anywhere() const;

  // For `return rt.exit_for_requeue();` once the stop checkpoint is committed: logs that the job
  // wants to be requeued and returns kExitRequeue.
  int exit_for_requeue() const;

  // Records how long the last checkpoint took, from save() to commit (the Checkpointer calls
  // this). When STRATA_SIGNAL_LEAD_SECONDS is set (slurm/simulation.sbatch passes its --signal
  // lead time) and is shorter than lead_seconds_needed(), warns once in the job log.
  void note_checkpoint_seconds(double seconds);
  // The last recorded checkpoint time, or 0.
  double last_checkpoint_seconds() const noexcept { return last_checkpoint_seconds_; }
  // The lead time a stop signal needs, from what this job measured: the step in flight (the
  // longest time between two calls of stop_requested_anywhere(), where the job notices the
  // signal), the save that may still be running and the stop's own save (twice the slowest
  // checkpoint), all times kLeadSafetyFactor for jitter, plus kLeadExitSeconds to end the job.
  // A 0.005 s checkpoint of a 0.1 s step needs 1.2 s; a 100 s checkpoint needs 301 s.
  double lead_seconds_needed() const noexcept;
  static constexpr double kLeadSafetyFactor = 1.5;  // slower disks or a busier node at the stop
  static constexpr double kLeadExitSeconds = 1;     // MPI_Finalize, the launcher's exit

 private:
  SlurmEnv slurm_;
  MpiContext mpi_;
  Topology topology_;
  MemoryManager memory_;
  std::optional<StopSignals> stop_signals_;
  std::optional<double> signal_lead_seconds_;
  double last_checkpoint_seconds_ = 0;
  double slowest_checkpoint_seconds_ = 0;
  // The longest interval between two stop polls, and when the last one was (steady clock, ns).
  mutable double slowest_step_seconds_ = 0;
  mutable std::int64_t last_stop_poll_ns_ = 0;
  bool lead_warning_given_ = false;
};

}  // namespace strata
