// SPDX-License-Identifier: Apache-2.0
// Executor: NUMA-aware execution on oneTBB — one task_arena per NUMA node
// (constraints.set_numa_id), its threads pinned through hwloc to that node's share of the CPUs
// this process may use (under Slurm, what Slurm gave the rank). Work on data placed on a node
// runs in that node's arena; partial results merge per node, then per rank (docs/scheduler.md).
//
//   strata::Runtime rt(argc, argv);
//   strata::Executor ex(rt);                                   // threads: STRATA_THREADS or all
//   allowed auto s = strata::reduce(ex, values, strata::kernels::Stats{});   // parallel.hpp
//
// On a synthetic topology the arenas and the plan follow the synthetic nodes, pinning is skipped
// (said once), and results are the same as on one arena.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "strata/runtime/cluster/runtime.hpp"
#include "strata/runtime/machine/topology.hpp"

namespace strata {

struct ExecutorOptions {
  // Total threads over all arenas; 0 means STRATA_THREADS if set (and not empty), else one per
  // CPU this process may use. Split over the nodes with allowed CPUs in proportion to their
  // allowed CPUs, at least one each, so the total can exceed a request smaller than that count.
  unsigned threads = 0;
  // Pin each arena's threads to its node's allowed CPUs while they work in it (skipped, said
  // once, on synthetic and XML topologies, where binding would be meaningless).
  bool pin = true;
  // Bytes per chunk of work; 0 picks default_chunk_bytes(). Must be a multiple of the page size.
  std::size_t chunk_bytes = 0;
};

// What ran where, for tests and reports. Indexed by logical NUMA node.
struct ExecutorStats {
  // Chunks and bytes processed by threads of each node's arena.
  std::vector<std::uint64_t> chunks_per_node;
  std::vector<std::uint64_t> bytes_per_node;
  // Chunks that ran in an arena other than the one their partition was planned on (0 unless the
  // scheduler is broken: the parallel algorithms only ever submit a chunk to its node's arena).
  std::uint64_t foreign_chunks = 0;
};

class Executor {
 public:
  // Throws Error(config) naming STRATA_THREADS and its value when it is malformed or above
  // kMaxThreadsPerCpu per allowed CPU; Error(invalid_argument) for such a count or a chunk size
  // that is not a page multiple given through the options; Error(unsupported) when the topology
  // has no allowed CPU.
  explicit Executor(const Runtime& runtime, ExecutorOptions options = {});
  // `topology` must outlive the executor.
  explicit Executor(const Topology& topology, ExecutorOptions options = {});
  // The executor keeps a reference: a temporary topology (or runtime) would dangle at once.
  explicit Executor(const Topology&& topology, ExecutorOptions options = {}) = delete;
  explicit Executor(const Runtime&& runtime, ExecutorOptions options = {}) = delete;
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // More threads than this per allowed CPU is a typo, not a configuration.
  static constexpr unsigned kMaxThreadsPerCpu = 16;
  // The total an Executor on `topology` runs for a request: `requested`, or when it is 0
  // STRATA_THREADS, or one per allowed CPU. Throws what the constructor throws for the count.
  // Whatever else takes a thread count (a oneTBB arena of its own) checks it here first.
  static unsigned resolve_threads(const Topology& topology, unsigned requested);

  const Topology& topology() const noexcept;
  // NUMA nodes of the topology (an arena exists for each one with threads).
  std::size_t node_count() const noexcept;
  unsigned threads() const noexcept;
  unsigned threads_on(std::size_t node) const noexcept;
  // The node whose arena runs work planned on `node`: `node` itself when it has threads, else the
  // first node that has (a node without allowed CPUs, e.g. memory-only, borrows one).
  unsigned execution_node(std::size_t node) const noexcept;
  // The oneTBB NUMA id `node`'s arena is constrained to, or -1 when oneTBB's view of the machine
  // does not match the topology (a synthetic topology not set through HWLOC_SYNTHETIC before
  // oneTBB started); the arena is then unconstrained and only our observer pins its threads.
  int tbb_numa_id(std::size_t node) const noexcept;
  bool pinning() const noexcept;

  // Bytes per chunk: the option, or default_chunk_bytes(topology()).
  std::size_t chunk_bytes() const noexcept;
  // Elements of `element_bytes` per chunk (at least one).
  std::size_t chunk_elements(std::size_t element_bytes) const noexcept;
  // The default chunk: a chunk and the output it produces take at most half of the L2 share of
  // one hardware thread — L2 bytes per PU / 4, rounded down to whole pages, clamped to
  // [64 KiB, 4 MiB]; 256 KiB when the topology reports no L2 (synthetic ones).
  static std::size_t default_chunk_bytes(const Topology& topology) noexcept;

  // The arena that runs `node`'s work (that of execution_node(node)): threads_on() worker slots
  // and one slot reserved for the application thread.
  oneapi::tbb::task_arena& arena(std::size_t node);

  // Runs work(k) for every k in [0, nodes.size()), each inside the arena of
  // execution_node(nodes[k]), all at once; returns when every one has finished and rethrows the
  // first exception any threw. The building block of the parallel algorithms: work(k) may spawn
  // oneTBB tasks, which stay in that arena.
  void run_on_nodes(std::span<const unsigned> nodes, const std::function<void(std::size_t)>& work);

  // Counts one chunk of `bytes` planned on `node`, against the arena of the calling thread.
  // Called by the parallel algorithms from inside the arenas.
  void count_chunk(unsigned node, std::size_t bytes) noexcept;
  ExecutorStats stats() const;
  void reset_stats() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
