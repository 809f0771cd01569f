// Runtime: the first object a strata program creates. It joins the MPI job (or runs as one rank),
// reads the Slurm environment, loads the topology and installs the stop-signal handlers; every
// other strata object (Executor, Dataset, Checkpointer) is built from it and passed by reference.
//
//   int main(int argc, char** argv) {
//     strata::Runtime rt(argc, argv);
//     double total = rt.mpi().allreduce_sum(local);
//     while (!rt.stop_requested()) step();
//   }
#pragma once

#include <optional>
#include <string>

#include "strata/runtime/memory_manager.hpp"
#include "strata/runtime/mpi_context.hpp"
#include "strata/runtime/slurm_env.hpp"
#include "strata/runtime/stop_signals.hpp"
#include "strata/runtime/topology.hpp"

namespace strata {

struct RuntimeOptions {
  // Install SIGUSR1/SIGTERM handlers feeding stop_requested(). Off for programs that own signals.
  bool install_stop_signals = true;
  // Load this synthetic topology instead of the machine (tests, what-if planning); when unset,
  // HWLOC_SYNTHETIC / HWLOC_XMLFILE are honoured, else the real machine is loaded.
  std::optional<std::string> synthetic_topology;
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

 private:
  SlurmEnv slurm_;
  MpiContext mpi_;
  Topology topology_;
  MemoryManager memory_;
  std::optional<StopSignals> stop_signals_;
};

}  // namespace strata
