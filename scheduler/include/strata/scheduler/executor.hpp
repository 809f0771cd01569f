// Executor: NUMA-aware execution on oneTBB — one task_arena per NUMA node
// (constraints.set_numa_id), its worker threads pinned through hwloc to that node's share of the
// CPUs this process may use (under Slurm, what Slurm gave the rank). Work on data placed on a node
// runs in that node's arena; partial results merge per node, then per rank.
//
//   strata::Runtime rt(argc, argv);
//   strata::Executor ex(rt);                                   // threads: STRATA_THREADS or all allowed
//   auto s = strata::reduce(ex, values, strata::kernels::Stats{});
//
// On a synthetic topology the arenas and the plan follow the synthetic nodes, pinning is skipped
// (said once), and results are the same as on one arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "strata/runtime/runtime.hpp"
#include "strata/runtime/topology.hpp"

namespace oneapi::tbb {
class task_arena;
}

namespace strata {

struct ExecutorOptions {
  // Total worker threads; 0 means STRATA_THREADS if set, else every CPU this process may use.
  unsigned threads = 0;
  // Pin each arena's threads to its node's allowed CPUs (skipped on synthetic topologies).
  bool pin = true;
  // Bytes per chunk of work; 0 picks the default (see chunk_bytes()).
  std::size_t chunk_bytes = 0;
};

// What ran where, for tests and reports: chunks and bytes per node.
struct ExecutorStats {
  std::vector<std::uint64_t> chunks_per_node;
  std::vector<std::uint64_t> bytes_per_node;
};

class Executor {
 public:
  // Throws Error(invalid_argument) for a malformed STRATA_THREADS, Error(unsupported) when the
  // topology has no allowed CPU.
  explicit Executor(const Runtime& runtime, ExecutorOptions options = {});
  explicit Executor(const Topology& topology, ExecutorOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const Topology& topology() const noexcept;
  std::size_t node_count() const noexcept;
  unsigned threads() const noexcept;
  unsigned threads_on(std::size_t node) const noexcept;
  // The default chunk: a multiple of the page size sized so a chunk and its output stay in half
  // of one core's L2 (documented in docs/guide.md).
  std::size_t chunk_bytes() const noexcept;
  oneapi::tbb::task_arena& arena(std::size_t node);

  ExecutorStats stats() const;
  void reset_stats() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
