// SPDX-License-Identifier: Apache-2.0
// Checkpointer::Impl, shared by the phases of a checkpoint, one file each: the save pipeline
// (save_pipeline.cpp: staging, the oneTBB pipeline, the shard), the two-phase commit (commit.cpp),
// restore (restore.cpp), the drain of the local level to the shared folder (drain.cpp) and the
// recovery of unfinished step folders (step_recovery.cpp); checkpointer.cpp holds the public
// calls that drive them.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint_levels.hpp"
#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/chunk_codec.hpp"
#include "checkpoint/folder_lock.hpp"
#include "checkpoint/xor_parity.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"

namespace strata::io {

namespace detail {
class StepReader;
}

using CheckpointClock = std::chrono::steady_clock;

enum class RegionKind { block, stacked, rank_local };

struct ProtectedRegion {
  std::string name;
  DType dtype = DType::u8;
  std::span<std::byte> data;
  RegionKind kind = RegionKind::block;
  Shape global_shape;  // resolved for stacked regions by resolve_stacked()
  std::size_t first_row = 0;
  Shape local_shape;  // stacked and rank-local regions
  bool resolved = false;
  std::size_t staging_offset = 0;
  // A protected mapped file: `data` and the shapes follow it (follow_mappings()).
  MappedFile* mapped = nullptr;

  std::size_t row_bytes() const { return global_shape.row_elements() * dtype_bytes(dtype); }
  std::size_t rows() const { return row_bytes() == 0 ? 0 : data.size() / row_bytes(); }
};

// The geometry and chunks of this rank's block of a region at its last committed save.
struct PreviousBlock {
  std::size_t first_row = 0;
  std::size_t rows = 0;
  std::uint64_t chunk_bytes = 0;
  std::vector<detail::ChunkRef> chunks;
};

// An incremental save's look at one region before the copy: each chunk's XXH3, taken from the
// live data, and the previous save's frame when that chunk is unchanged (else nullptr: the chunk
// was copied into staging and is written). Empty when the region is copied whole.
struct ChunkScan {
  std::vector<std::uint64_t> hash;
  std::vector<const detail::ChunkRef*> reuse;
};

// "step 42", as messages name a step.
std::string step_text(long step);

// Copies `from` into `to` in parallel pieces with the streaming-store copy kernel.
void parallel_copy(oneapi::tbb::task_arena& arena, std::span<const std::byte> from,
                   std::span<std::byte> to);

// Rank 0 of a new Checkpointer: removes the `step-N.tmp` folders a crashed run left, and puts
// back or removes `step-N.replaced` folders of a re-save interrupted between its two renames.
void recover_step_folders(const std::string& dir);

struct Checkpointer::Impl {
  Runtime& rt;
  Executor& ex;
  CheckpointOptions options;
  std::unique_ptr<MpiContext> commit_mpi;  // the background thread's own communicator
  detail::FolderLock folder_lock;          // rank 0: this job owns the folder while it lives
  bool async = true;
  oneapi::tbb::task_arena arena;

  std::vector<ProtectedRegion> regions;
  PlacedRegion staging;
  std::vector<detail::FrameBuffer> frame_pool;  // reused by every save

  std::thread worker;
  mutable std::mutex status_mutex;
  // Under status_mutex: false while a save's outcome is not known yet. The worker sets it once
  // the step is committed or failed (and its drain started), then prunes older steps: wait()
  // waits for this, not for the worker's end.
  bool reported = true;
  std::condition_variable settled;
  SaveStatus status;
  std::exception_ptr failure;
  bool harvested = true;

  std::map<std::string, PreviousBlock> previous;
  std::vector<ChunkScan> scans;  // one per region, filled by save() (see stage())
  int incremental_saves = 0;
  CheckpointClock::time_point last_save_start = CheckpointClock::now();
  RestoreReport last_restore;
  // The newest step this Checkpointer committed or restored: save() takes only newer ones.
  std::optional<long> newest_step;

  Impl(Runtime& r, Executor& e, CheckpointOptions o)
      : rt(r),
        ex(e),
        options(std::move(o)),
        arena(static_cast<int>(std::max(2u, e.threads())), 1,
              oneapi::tbb::task_arena::priority::low) {}

  // ---- mapped files (mapped_regions.cpp)

  // Collective. Holds every protected mapped file in place and points its region at the file's
  // current bytes and shape. Throws on every rank what any rank found wrong.
  std::vector<std::shared_lock<std::shared_mutex>> follow_mappings();
  // Collective. msync of every protected read_write mapping; Error(io) on every rank when one
  // rank's write-back failed.
  void flush_mappings();
  // ---- levels (with options.local_dir; see checkpoint_levels.hpp)
  bool levels() const { return !options.local_dir.empty(); }
  std::string my_node_folder;  // local_dir/node-<name> of this rank's node
  detail::NodeLayout layout;
  std::unique_ptr<MpiContext> drain_mpi;  // the drain thread's own communicator
  std::thread drainer;
  DrainStatus drain;  // under status_mutex
  std::exception_ptr drain_failure;
  bool drain_harvested = true;
  // Set when someone waits for the drain (save(), finish_drain()): it leaves its idle priority.
  std::atomic<bool> drain_hurry{false};
  int local_commits = 0;
  // The newest step committed (or restored) on the local level, with its manifest, and the
  // newest known to be in `shared`: the same on every rank (both follow collective decisions).
  std::optional<long> newest_local;
  detail::Manifest newest_local_manifest;
  CheckpointClock::time_point newest_local_started;
  std::optional<long> newest_drained;

  // The folder a save writes its shards into: this node's local folder, or `dir`.
  const std::string& save_folder() const { return levels() ? my_node_folder : options.dir; }
  // Sends this rank's shard of `step` to its partner (the save's thread, commit_mpi); returns
  // what failed here, or an empty string.
  std::string send_to_partner(long step);
  // Starts the drain of `step` (a thread, or at once without MPI_THREAD_MULTIPLE).
  void start_drain(long step, detail::Manifest manifest, CheckpointClock::time_point started);
  void run_drain(long step, const detail::Manifest& manifest, CheckpointClock::time_point started);
  // Waits for the drain in flight; a failure is logged (it stays in drain_status()).
  void join_drain();

  // ---- XOR group level (with options.xor_group; checkpoint_xor.cpp)
  std::vector<detail::XorGroup> xor_groups;
  // Cuts the job's nodes into groups (collective data only: the same on every rank). Throws
  // Error(invalid_argument) on one node.
  void plan_xor_groups();
  // Collective on commit_mpi (the save's thread): once every rank's shard of `step` is written,
  // each node's lowest rank computes its piece of its group's parity with the other members and
  // writes it into its node folder's step-N.tmp/parity.xor. Returns what failed here, or "".
  std::string write_parity(long step, bool shard_ok);
  // Collective. Rebuilds the shards of `lost` ranks (in no node folder) from their groups' parity
  // into the folder of the lowest rank of each lost node, each checked against the manifest's
  // SHA-256 before it is put in place. Returns why the parity cannot rebuild them (the same on
  // every rank), else "" with `written` holding (writer, rank) for every rebuilt shard and
  // `problem` what failed on this rank.
  std::string rebuild_from_parity(long step, const detail::Manifest& m,
                                  const std::vector<std::vector<int>>& held,
                                  const std::vector<int>& lost,
                                  std::vector<detail::FileTransfer>& written, std::string& problem);

  // ---- save (save_pipeline.cpp)

  void resolve_stacked();
  std::size_t layout_staging();
  std::uint64_t stage();
  void harvest();
  void run_save(long step, CheckpointClock::time_point started);
  // Deletes steps beyond `keep` from the folder this rank prunes (a failure is logged).
  void prune_older_steps();
  detail::Manifest write_shard(long step, SaveStatus& st);

  // ---- commit (commit.cpp)

  void commit(long step, const std::string& local_error, ErrorCategory local_category,
              const detail::Manifest& part, CheckpointClock::time_point started);

  // ---- restore (restore.cpp)

  std::string check_compatible(const detail::Manifest& m, const ProtectedRegion& p) const;
  // One collective attempt to restore `step` from `folder` (each rank its own: a node folder or
  // `dir`): true when restored; false when some rank found it damaged (skipped, with the reason
  // in last_restore). `problem` is a failure this rank already met (a rebuild that failed).
  // Throws Error(invalid_argument) when it does not fit what is protected.
  bool attempt_restore(long step, const std::string& folder,
                       const std::function<detail::Manifest()>& manifest_of, CheckpointLevel level,
                       const std::string& problem);
  // Whether the node-local folders can give `step` (rebuilding missing shards from partner
  // copies on other nodes); restores it if so. Collective.
  bool restore_from_local(long step);
  void read_into_staging(detail::StepReader& reader);
  // Collective: the step's manifest, read by rank 0 once and broadcast (restore.cpp).
  detail::Manifest step_manifest(long step);
};

}  // namespace strata::io
