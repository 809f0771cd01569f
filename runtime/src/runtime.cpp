// Runtime: the order of start-up matters — Slurm variables are validated before MPI starts (a
// malformed job environment fails fast), the log learns the rank before anything is said, and the
// topology is loaded before threads exist so the process affinity read is the launcher's.
#include "strata/runtime/runtime.hpp"

#include "strata/runtime/log.hpp"

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

}  // namespace

Runtime::Runtime(int& argc, char**& argv, RuntimeOptions options)
    : slurm_(SlurmEnv::from_environment()),
      mpi_(argc, argv),
      topology_((log::set_rank(mpi_.size() > 1 ? mpi_.rank() : -1), load_topology(options))),
      memory_(topology_) {
  if (options.install_stop_signals) stop_signals_.emplace();
}

Runtime::Runtime(RuntimeOptions options) : Runtime(no_argc(), no_argv(), std::move(options)) {}

bool Runtime::stop_requested() const noexcept {
  return stop_signals_ && stop_signals_->stop_requested();
}

int Runtime::stop_signal() const noexcept { return stop_signals_ ? stop_signals_->stop_signal() : 0; }

}  // namespace strata
