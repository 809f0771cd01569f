// SPDX-License-Identifier: Apache-2.0
// Checkpointer: atomic, verified, compressed, incremental and asynchronous snapshots of a
// simulation's state across all MPI ranks, and restart from the newest good one — also on a
// different number of ranks. The on-disk format is specified in docs/formats.md ("Checkpoints").
//
//   strata::io::Checkpointer ck(rt, ex, {.dir = "ckpt", .every_seconds = 50, .keep = 2});
//   ck.protect("u", u.rows(1, ny_local), {.global_shape = {ny, nx}, .first_row = row0});
//   long step = ck.restore_latest().value_or(0);   // verifies; falls back past a bad checkpoint
//   for (; step < steps; ++step) {
//     advance();
//     bool stop = rt.stop_requested_anywhere();
//     if (ck.due(step + 1) || stop) ck.save(step + 1);   // returns after the copy
//     if (stop) { ck.wait(); return rt.exit_for_requeue(); }
//   }
//   ck.wait();                                      // the last save is committed (or throws)
//
// Every call that takes part in the protocol (save, wait, restore_latest, the destructor) is
// collective: all ranks call it, in the same order, with the same step.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/base/progress.hpp"
#include "strata/runtime/cluster/runtime.hpp"
#include "strata/runtime/files/mapped_file.hpp"
#include "strata/runtime/memory/array.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::io {

// How chunks are stored: zstd frames at a level (1 is fast, 19 is small), or raw bytes. With
// `shuffle`, zstd sees the bytes of multi-byte elements regrouped by significance first (the
// shuffle filter of HDF5 and Blosc): the slowly varying high bytes of a smooth field line up,
// which on a diffused f64 field made zstd 1 about twice as fast and a quarter smaller.
struct Codec {
  enum class Kind : std::uint8_t { none = 0, zstd = 1 };
  Kind kind = Kind::zstd;
  int level = 1;
  bool shuffle = true;
};
inline Codec zstd(int level = 1, bool shuffle = true) { return {Codec::Kind::zstd, level, shuffle}; }
inline Codec no_compression() { return {Codec::Kind::none, 0, false}; }

// The default pace of a drain, per rank (CheckpointOptions::drain_bytes_per_second).
inline constexpr double kDefaultDrainBytesPerSecond = 16.0 * 1024 * 1024;

struct CheckpointOptions {
  // Folder holding one sub-folder per step (created 0777 & ~umask if missing; an existing folder
  // keeps its permissions). With local_dir set this is the `shared` level: the folder on the
  // parallel file system that steps are drained to in the background.
  std::string dir = "ckpt";
  // The `local` level: a node-local folder (a tmpfs, a local SSD, $SLURM_TMPDIR). Each node keeps
  // its steps in local_dir/node-<name>/ (the name is the host name, or STRATA_NODE_NAME when set:
  // tests simulate several nodes on one machine with it). A save commits here, the fastest level;
  // the drain to `dir` follows in the background. Empty: no local level, saves go to `dir`.
  // A local level saves whole shards (no incremental reuse): each level must restore a step on
  // its own.
  std::string local_dir;
  // The `partner` level (needs local_dir): each rank's shard is also sent over MPI to the rank of
  // the same node-local index on the next node, which writes it into its node's local folder; a
  // save commits once both copies are written. The job must span at least two nodes
  // (Error(invalid_argument) otherwise: a copy on the same node protects nothing).
  bool partner = false;
  // The XOR group level (needs local_dir; instead of partner, which it cannot be combined with):
  // 0 is off; K >= 2 cuts the job's nodes, in order of their lowest rank, into groups of K (a
  // last group of fewer than K joins the one before; a job of fewer than K nodes is one group).
  // After each local save, each group computes parity over MPI so that any one node of the group
  // can be lost and its ranks' shards rebuilt from the others' shards and parity: every node
  // stores 1/(K-1) of the largest node's shard bytes in its group as parity, where partner
  // stores a whole second copy. A save commits once every group's parity is written. The job
  // must span at least two nodes (Error(invalid_argument) otherwise, as for partner).
  int xor_group = 0;
  // With local_dir: drain every Nth committed step to `dir` (1: every one; 0: only when
  // finish_drain() asks, e.g. at a stop signal, or by `strata ckpt drain`).
  int drain_every = 1;
  // With local_dir: the most bytes per second each rank's drain copies to `dir` while nobody waits
  // for it (0: as fast as it goes). A drain running flat out slowed a memory-bound simulation by
  // 7-22 % for its duration on a 2-CPU VM whose disk writes the host serves on the VM's CPUs;
  // paced, it takes longer and costs about proportionally less (bench/checkpoint_levels). save(),
  // finish_drain() and a stop signal end the pacing: the drain then finishes at full speed, and
  // the lead time a stop signal needs counts the drain without its pauses.
  double drain_bytes_per_second = kDefaultDrainBytesPerSecond;
  // due() turns true this many seconds after the last save started (0: never by time) ...
  double every_seconds = 0;
  // ... or on steps that are multiples of this (0: never by step count).
  long every_steps = 0;
  // Complete checkpoints kept; older ones are deleted once a newer one commits (a folder still
  // referenced by a kept incremental checkpoint stays until nothing needs it). At least 1. The
  // deletion runs in the background after wait() returns: the next save(), finish_drain() and the
  // destructor wait for it.
  int keep = 2;
  Codec codec = zstd(1);
  // Bytes per chunk: the unit of compression, checksumming and incremental reuse.
  std::size_t chunk_bytes = std::size_t{4} << 20;
  // Reference unchanged chunks (same XXH3 as in the previous save) instead of rewriting them.
  bool incremental = true;
  // Force a full save after this many incremental ones, so restore never chases a long chain.
  int full_every = 16;
  // Whose state this is (e.g. the job's configuration name, or a hash of its inputs and
  // parameters; at most 255 bytes). Recorded in every manifest; restore_latest() refuses a
  // checkpoint of another run instead of continuing from it. Shapes alone cannot tell two jobs of
  // the same program apart.
  std::string run_id;
};

// Where this rank's rows sit in the global array: rows [first_row, first_row + rows) of an array
// of global_shape, where rows is the protected span's length / the global shape's row elements.
struct GlobalBlock {
  Shape global_shape;
  std::size_t first_row = 0;
};

// The row layout of a mapped file's bytes: rows of `row_shape` elements of `dtype` (an empty
// row_shape: rows of one element), so the file holds size / row bytes rows of a global array.
struct MappedRows {
  DType dtype = DType::u8;
  Shape row_shape;
};

enum class SaveState { none, in_flight, committed, failed };

// Where a step is stored. `local`: the node-local folders; `partner`: the node-local folders,
// some ranks' shards rebuilt from the copies on other nodes; `xor_parity` ("xor"): the
// node-local folders, a lost node's shards rebuilt from its XOR group's parity; `shared`: the
// folder `dir`.
enum class CheckpointLevel : std::uint8_t { local, partner, shared, xor_parity };
const char* to_string(CheckpointLevel level) noexcept;

// The drain of a step from the local level to `shared`. Times in seconds from the step's save().
struct DrainStatus {
  long step = -1;
  SaveState state = SaveState::none;
  std::string error;         // why it failed, when failed
  double safe_seconds = 0;   // from save() to the commit in `shared`
  double drain_seconds = 0;  // the drain alone
  double paced_seconds = 0;  // of drain_seconds, the pauses that held it to its pace
};

// What the last save did. Times in seconds; bytes as given to save() and as written to disk.
struct SaveStatus {
  long step = -1;
  SaveState state = SaveState::none;
  std::string error;               // why it failed (any rank's first error), when failed
  double copy_seconds = 0;         // the time save() held the caller
  double total_seconds = 0;        // from save() to commit
  std::uint64_t raw_bytes = 0;     // this rank's protected bytes
  std::uint64_t written_bytes = 0; // this rank's shard bytes (compressed, without reused chunks)
  std::uint64_t chunks_written = 0;
  std::uint64_t chunks_reused = 0;
  // The level the save committed at: `shared` without local_dir, else `local` (or `partner` /
  // `xor_parity` when partner copies / XOR parity were written too).
  CheckpointLevel level = CheckpointLevel::shared;
};

// A checkpoint passed over by restore_latest(), and why (naming the rank, shard and check).
struct SkippedCheckpoint {
  long step = 0;
  std::string reason;
};

struct RestoreReport {
  std::optional<long> step;                // restored step, if any
  CheckpointLevel level = CheckpointLevel::shared;  // where it came from
  std::vector<int> rebuilt_ranks;          // level partner / xor_parity: ranks whose shards came
                                           // from a partner copy / were rebuilt from parity
  std::vector<SkippedCheckpoint> skipped;  // newer checkpoints that failed verification
};

class Checkpointer {
 public:
  // Collective. Creates the folder (Error(io) naming it when it cannot), removes unfinished
  // `step-N.tmp` folders a crashed run left (rank 0). Throws Error(invalid_argument) for bad
  // options (keep < 1, chunk_bytes 0 or above 1 GiB, zstd level outside [1, 22], partner or
  // xor_group without local_dir, both together, xor_group 1 or negative) and, on every rank, for
  // partner or xor_group when every rank runs on one node.
  Checkpointer(Runtime& runtime, Executor& executor, CheckpointOptions options);
  // Waits for a save in flight (errors are logged, not thrown).
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Protects rows of a global array held by this rank. The span stays owned by the caller and
  // must stay valid while the checkpointer lives. Names are unique per checkpointer; the global
  // shape, dtype and name must be the same on every rank. A save in flight is waited for first.
  // Throws Error(invalid_argument) for a duplicate name, a span that is not whole rows, or rows
  // outside the global shape.
  template <class T>
  void protect(std::string name, std::span<T> rows, GlobalBlock block) {
    protect_bytes(std::move(name), dtype_of<std::remove_const_t<T>>(),
                  {reinterpret_cast<std::byte*>(rows.data()), rows.size_bytes()}, std::move(block));
  }
  // A whole array as this rank's block: blocks are stacked in rank order along the first
  // dimension (the global shape is found collectively at the first save or restore).
  template <class T>
  void protect(Array<T>& array) {
    protect_stacked(array.name(), array.dtype(), array.storage().byte_span(), array.shape());
  }
  // The bytes of a writable mapped file (read_write or copy_on_write), as rank-local state of
  // one size on every rank (a save that finds sizes differing throws Error(invalid_argument) on
  // every rank): restore writes them back into the mapping; it needs the same number of ranks,
  // and a file of the size the checkpoint holds (else Error(invalid_argument) naming both).
  //
  // A protected mapping is followed, not captured: the checkpointer keeps a reference to `file`
  // (which must stay at its address, not moved from, while the checkpointer lives) and takes
  // its span and size afresh at every save() and restore_latest(), so a save after grow() holds
  // the grown contents. While save() copies the mapping (and while restore_latest() writes it
  // back) it holds it in place (MappedFile::hold_mapping()): a grow() on another thread waits for
  // the copy instead of unmapping what is being read. A grow() after save() returns is safe; the
  // background writing reads only the staging copy.
  //
  // Writers in other processes (a read_write mapping is MAP_SHARED): save() takes the file's
  // contents as they are while it copies, chunk by chunk. A process writing the file during that
  // copy can leave a chunk torn (part from before its write, part from after), and chunks from
  // different moments; no lock between processes is taken. Each chunk's checksum is computed
  // over the copied bytes, so the checkpoint always verifies and restores exactly what was
  // copied. For a snapshot of one moment, pause the other writers around save() (not around the
  // background writing: once save() returns the copy is taken).
  //
  // restore_latest() flushes a restored read_write mapping (msync) before it returns: the
  // restored bytes are in the file, not only in the page cache (Error(io) on every rank when a
  // rank's write-back fails).
  void protect(std::string name, MappedFile& file);
  // A mapped file of rows of a global array (`layout`), stacked in rank order as protect(Array&)
  // stacks arrays: rank r's rows follow rank r-1's, and the global shape is found collectively at
  // every save and restore. Restore works on another number of ranks: each rank's file is
  // filled with the rows it now holds, so size each rank's file to its new share of the rows
  // (the global row count must match). Followed and flushed as the rank-local form above.
  // Error(invalid_argument) when the file is not whole rows, at protect() and (on every rank) at
  // a save or restore after it changed size.
  void protect(std::string name, MappedFile& file, MappedRows layout);

  void protect_bytes(std::string name, DType dtype, std::span<std::byte> rows, GlobalBlock block);
  void protect_stacked(std::string name, DType dtype, std::span<std::byte> data, Shape local_shape);

  // True when `step` is a multiple of every_steps, or every_seconds have passed since the last
  // save started. With every_seconds set it is collective (rank 0's clock decides, one small
  // broadcast), so every rank gets the same answer; otherwise local.
  bool due(long step);

  // Collective. Waits for a save still in flight (its failure is reported through status(), not
  // thrown here), copies every protected region into a staging buffer, and returns; checksums,
  // compression, writing and the two-phase commit go on in the background. Throws Error(resource)
  // when the staging buffer cannot be allocated, and Error(invalid_argument) (on every rank, before
  // anything is written) when nothing is protected, or `step` is not newer than the newest step
  // this Checkpointer committed or restored ("step 5 exists", "steps must increase"). A step the
  // folder holds from an earlier run is replaced (a restart that fell back past a damaged one);
  // a failed save may be retried with the same step.
  void save(long step);
  // Collective. Waits for the save in flight to commit or fail (not for the deletion of older
  // steps that follows a commit, see keep); returns its status. Throws the save's error
  // (Error(io), Error(resource) for a full disk, Error(distributed) when another rank failed)
  // when it failed: the previous checkpoint is then still the newest complete one.
  SaveStatus wait();
  // The last save's status, without waiting.
  SaveStatus status() const;

  // Collective. With local_dir: makes sure the newest committed step is safe beyond the job —
  // waits for the save in flight and for its drain, and drains the newest step when no drain
  // took it (drain_every) — and returns the drain's status (state none when no step exists,
  // committed when the step was already in `dir`). Without local_dir: wait()'s step, committed.
  // For a stop signal: the measured time from save() to the shared commit is what the lead
  // time must cover (Runtime::note_checkpoint_seconds warns when it does not). Throws the
  // drain's error (Error(io), Error(distributed)); the step then stays on the local level.
  DrainStatus finish_drain();
  // The last drain's status, without waiting.
  DrainStatus drain_status() const;

  // Collective. Restores the newest checkpoint that verifies on every rank into the protected
  // regions and returns its step; nullopt when there is none. Checkpoints that fail (a corrupt,
  // truncated or missing shard, a truncated manifest, a region that no longer matches) are
  // skipped with a warning naming the problem; nothing is written into the regions until a
  // checkpoint has verified; protected read_write mapped files are then msynced before it
  // returns. Throws Error(invalid_argument) when the newest good checkpoint lacks a protected
  // region or has it with another dtype or global shape, or belongs to another run_id.
  // With local_dir, each step is tried on the node-local folders first: whole (`local`), with a
  // lost node's shards fetched from partner copies (`partner`) or rebuilt from its XOR group's
  // parity (`xor_parity`: one node per group may be missing; each rebuilt shard is checked
  // against the manifest's SHA-256 before use), else from `dir`; last_restore() names the level
  // and the rebuilt ranks.
  std::optional<long> restore_latest();
  const RestoreReport& last_restore() const noexcept;

  const CheckpointOptions& options() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// ---- Tools over a checkpoint folder (strata ckpt), usable without MPI and without a Checkpointer.

struct CheckpointRegionInfo {
  std::string name;
  DType dtype = DType::u8;
  Shape global_shape;
  bool rank_local = false;
};

struct CheckpointInfo {
  long step = 0;
  std::string path;
  int ranks = 0;
  bool incremental = false;                 // references chunks of older steps
  std::vector<long> depends_on;             // older steps whose shards it references
  std::uint64_t shard_bytes = 0;            // bytes of its own shards
  std::uint64_t raw_bytes = 0;              // bytes of state it restores
  std::vector<CheckpointRegionInfo> regions;
  std::string created;                      // ISO 8601 UTC
};

// Complete checkpoints (with a manifest) in `dir`, oldest first. A manifest that does not parse
// is listed through `problems` instead. Throws Error(io) when `dir` cannot be read.
std::vector<CheckpointInfo> list_checkpoints(const std::string& dir,
                                             std::vector<SkippedCheckpoint>* problems = nullptr);

// Verifies one step completely (manifest, every shard's SHA-256, every chunk's XXH3 after
// decompression, and the steps it depends on). Returns the problems found (empty: good).
// `progress`, when given, gets the shard and region bytes to check and each once checked.
std::vector<std::string> verify_checkpoint(const std::string& dir, long step,
                                           Progress* progress = nullptr);

// Deletes all but the newest `keep` complete checkpoints, keeping any folder a kept one still
// references. Unfinished `.tmp` folders are left alone (a running job may be writing one; the
// next Checkpointer on the folder removes them). Returns the steps removed.
std::vector<long> prune_checkpoints(const std::string& dir, int keep);

// A step as the levels hold it: in `shared` (complete with its manifest), and in the node-local
// folders of local_dir (node-<name>/ each): `local` when every rank's shard is in the folder of
// the node that wrote it, `partner` when some are only in another node's folder (a partner
// copy), `incomplete` when some shard is in no folder. Presence only: restore verifies.
struct StepLevels {
  long step = 0;
  int ranks = 0;
  bool shared = false;
  std::string local;               // "local", "partner", "incomplete" or "" (not on the level)
  std::vector<std::string> nodes;  // node folders holding part of it
};
struct LevelListing {
  std::vector<StepLevels> steps;  // oldest first
  // What a restart on the same nodes would use: the newest step the local folders can rebuild,
  // else the newest in `shared`; nullopt when none.
  std::optional<long> restart_step;
  CheckpointLevel restart_level = CheckpointLevel::shared;
};
LevelListing list_checkpoint_levels(const std::string& dir, const std::string& local_dir);

// Finishes a drain by hand (a job epilogue, or after a job died mid-drain): copies `step`
// (nullopt: the newest step the local folders hold whole that `dir` lacks) from the node folders
// of local_dir into `dir` with the two-phase commit, each shard checked against the manifest's
// SHA-256 first. Returns the step drained, nullopt when there was nothing to drain. Throws
// Error(io) when a shard is in no folder or a copy fails (then `dir` is unchanged), or when a job
// holds `dir`.
std::optional<long> drain_checkpoint(const std::string& dir, const std::string& local_dir,
                                     std::optional<long> step = std::nullopt);

// Reads one region of a verified checkpoint as the whole global array (row-major bytes).
// Throws Error(corrupt_data) when a chunk fails its checksum, Error(invalid_argument) for an
// unknown region or a rank-local one.
std::vector<std::byte> read_checkpoint_region(const std::string& dir, long step,
                                              const std::string& region);

}  // namespace strata::io
