// SPDX-License-Identifier: Apache-2.0
// A save's pipeline, after save() returns: the protected regions are staged (copied, or for an
// incremental save only their changed chunks), then on a low-priority oneTBB arena each chunk is
// checksummed, compressed and hashed in parallel and appended in order to this rank's shard in
// step-N.tmp/ (O_DIRECT where possible), which is fsynced; run_save hands the result to commit.
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "checkpoint/checkpointer_impl.hpp"
#include "checkpoint/shard_header.hpp"
#include "checkpoint/shard_index.hpp"
#include "checkpoint/thread_priority.hpp"
#include "checksum/sha256.hpp"
#include "files/file_io.hpp"
#include "files/publish_file.hpp"
#include "format/strata_format.hpp"
#include "strata/kernels/transform.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"
#include "strata/runtime/base/round_up.hpp"

namespace strata::io {

namespace fs = std::filesystem;
using detail::BlockRecord;
using detail::ChunkRef;
using detail::Manifest;
using detail::RegionRecord;

// Copies `from` into `to` in parallel pieces with the streaming-store copy kernel.
void parallel_copy(oneapi::tbb::task_arena& arena, std::span<const std::byte> from,
                   std::span<std::byte> to) {
  // Above kStreamingCopyBytes, so each piece goes out through streaming stores: the staging copy
  // is not read again until the background stage streams through it.
  constexpr std::size_t kPiece = 2 * kernels::kStreamingCopyBytes;
  const std::size_t pieces = divide_round_up(from.size(), kPiece);
  arena.execute([&] {
    oneapi::tbb::parallel_for(std::size_t{0}, pieces, [&](std::size_t p) {
      const std::size_t offset = p * kPiece;
      const std::size_t n = std::min(kPiece, from.size() - offset);
      kernels::copy(from.subspan(offset, n), to.subspan(offset, n));
    });
  });
}

// Stacked regions learn their place: rows of every rank, in rank order (collective).
void Checkpointer::Impl::resolve_stacked() {
  for (ProtectedRegion& p : regions) {
    if (p.kind != RegionKind::stacked || p.resolved) continue;
    const std::uint64_t mine = p.local_shape.rank() == 0 ? 1 : p.local_shape[0];
    std::vector<std::uint64_t> rows = rt.mpi().allgather(mine);
    std::uint64_t total = 0;
    for (int r = 0; r < rt.size(); ++r) {
      if (r == rt.rank()) p.first_row = total;
      total += rows[static_cast<std::size_t>(r)];
    }
    Shape global;
    global.push_back(total);
    for (std::size_t d = 1; d < p.local_shape.rank(); ++d) global.push_back(p.local_shape[d]);
    p.global_shape = global;
    p.resolved = true;
  }
}

std::size_t Checkpointer::Impl::layout_staging() {
  std::size_t total = 0;
  for (ProtectedRegion& p : regions) {
    p.staging_offset = total;
    total += round_up(p.data.size(), std::size_t{64});
  }
  if (staging.size() < total) {
    staging = PlacedRegion();
    RegionOptions ro;
    ro.populate = true;
    staging = rt.memory().region(std::max<std::size_t>(total, 1), ro);
  }
  return total;
}

// Copies the protected regions into staging; returns the bytes protected. An incremental save
// whose region kept its geometry since the last commit hashes the live chunks in place first and
// copies only those that changed: unchanged state is read once and never copied or hashed again
// (a changed chunk is hashed once more, from its copy, in the background).
std::uint64_t Checkpointer::Impl::stage() {
  // A local level saves whole shards: each level must restore a step without older steps.
  const bool reuse_allowed =
      options.incremental && !levels() && incremental_saves < options.full_every;
  const std::size_t chunk = options.chunk_bytes;
  std::uint64_t raw = 0;
  scans.assign(regions.size(), ChunkScan{});
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const ProtectedRegion& p = regions[i];
    std::span<std::byte> to(staging.data() + p.staging_offset, p.data.size());
    raw += p.data.size();
    auto it = reuse_allowed ? previous.find(p.name) : previous.end();
    if (it == previous.end() || it->second.first_row != p.first_row ||
        it->second.rows != p.rows() || it->second.chunk_bytes != chunk) {
      parallel_copy(arena, p.data, to);
      continue;
    }
    const std::vector<ChunkRef>& old = it->second.chunks;
    ChunkScan& scan = scans[i];
    const std::size_t n = divide_round_up(p.data.size(), chunk);
    scan.hash.resize(n);
    scan.reuse.assign(n, nullptr);
    arena.execute([&] {
      oneapi::tbb::parallel_for(std::size_t{0}, n, [&](std::size_t c) {
        const std::size_t at = c * chunk;
        const std::size_t len = std::min(chunk, p.data.size() - at);
        std::span<const std::byte> live(p.data.data() + at, len);
        scan.hash[c] = detail::checksum(live);
        if (c < old.size() && old[c].raw_bytes == len && old[c].raw_hash == scan.hash[c]) {
          scan.reuse[c] = &old[c];
        } else {
          kernels::copy(live, to.subspan(at, len));
        }
      });
    });
  }
  return raw;
}

void Checkpointer::Impl::harvest() {
  if (worker.joinable()) worker.join();
  if (harvested) return;
  harvested = true;
  std::lock_guard lock(status_mutex);
  if (status.state == SaveState::committed) {
    rt.note_checkpoint_seconds(status.total_seconds);
  } else if (status.state == SaveState::failed) {
    log::warn("checkpoint " + step_text(status.step) + " failed: " + status.error);
  }
}

Manifest Checkpointer::Impl::write_shard(long step, SaveStatus& st) {
  const int rank = rt.rank();
  const std::string dir = save_folder();
  const std::string tmp = detail::temp_step_folder(dir, step);
  detail::make_folder(dir);
  detail::create_temp_step_folder(tmp);
  const std::string path = (fs::path(tmp) / detail::shard_name(rank)).string();
  detail::AppendWriter shard(path, 0666);  // & ~umask

  Manifest part;
  part.step = step;
  part.ranks = rt.size();
  part.codec = options.codec;
  part.shards.resize(static_cast<std::size_t>(rt.size()));
  for (int r = 0; r < rt.size(); ++r) {
    part.shards[static_cast<std::size_t>(r)] = {r, detail::kShardHeaderBytes, std::string(64, '0')};
  }

  detail::ShardHeader shard_header;
  shard_header.rank = rank;
  shard_header.step = step;
  shard_header.ranks = rt.size();
  shard_header.regions = static_cast<std::uint32_t>(regions.size());
  for (const ProtectedRegion& p : regions) shard_header.raw_bytes += p.data.size();
  const auto header = shard_header.encode();
  shard.append(header);

  struct Job {
    std::size_t region;
    std::size_t index;
    std::span<const std::byte> raw;
    // Filled by the parallel stage, consumed by the writing stage.
    std::uint64_t hash = 0;
    const ChunkRef* reused = nullptr;
    detail::FrameBuffer* frame = nullptr;
    std::span<const std::byte> stored;
    bool shuffled = false;
    detail::Sha256::digest_type digest{};
  };
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const ProtectedRegion& p = regions[i];
    RegionRecord rec;
    rec.name = p.name;
    rec.dtype = p.dtype;
    rec.global_shape = p.global_shape;
    rec.rank_local = p.kind == RegionKind::rank_local;
    rec.chunk_bytes = options.chunk_bytes;
    BlockRecord block;
    block.rank = rank;
    block.first_row = p.first_row;
    block.rows = p.rows();
    rec.blocks.push_back(block);
    part.regions.push_back(std::move(rec));
    std::span<const std::byte> bytes(staging.data() + p.staging_offset, p.data.size());
    for (std::size_t c = 0; c * options.chunk_bytes < bytes.size(); ++c) {
      const std::size_t at = c * options.chunk_bytes;
      jobs.push_back({i, c, bytes.subspan(at, std::min(options.chunk_bytes, bytes.size() - at))});
    }
  }

  // A pipeline: chunks enter in order; checksum, reuse check, compression and the frame's SHA-256
  // run in parallel; the frames are appended in order by one stage (AppendWriter: straight to the
  // device where the file system allows, so the final fsync waits only for the tail).
  const std::size_t tokens =
      std::clamp<std::size_t>(2 * static_cast<std::size_t>(arena.max_concurrency()), 4, 64);
  if (frame_pool.size() < tokens) frame_pool.resize(tokens);
  std::vector<detail::FrameBuffer*> free_frames;
  for (std::size_t i = 0; i < tokens; ++i) free_frames.push_back(&frame_pool[i]);
  std::mutex free_mutex;
  const bool compress = options.codec.kind != Codec::Kind::none;
  std::vector<detail::Sha256::digest_type> frame_digests;
  std::vector<long> depends;
  std::size_t next = 0;
  namespace tbb = oneapi::tbb;
  arena.execute([&] {
    tbb::parallel_pipeline(
        tokens, tbb::make_filter<void, Job*>(tbb::filter_mode::serial_in_order,
                                             [&](tbb::flow_control& fc) -> Job* {
                                               if (next == jobs.size()) {
                                                 fc.stop();
                                                 return nullptr;
                                               }
                                               return &jobs[next++];
                                             }) &
                    tbb::make_filter<Job*, Job*>(tbb::filter_mode::parallel,
                                                 [&](Job* j) {
                                                   const ChunkScan& scan = scans[j->region];
                                                   if (!scan.hash.empty() &&
                                                       scan.reuse[j->index] != nullptr) {
                                                     // Hashed by stage(); an unchanged chunk was never copied into staging.
                                                     j->hash = scan.hash[j->index];
                                                     j->reused = scan.reuse[j->index];
                                                     return j;
                                                   }
                                                   // The staged copy's own hash: the live chunk stage() hashed may have
                                                   // changed before its copy (a shared mapping another process writes).
                                                   j->hash = detail::checksum(j->raw);
                                                   if (compress) {
                                                     {
                                                       std::lock_guard lock(free_mutex);
                                                       j->frame = free_frames.back();
                                                       free_frames.pop_back();
                                                     }
                                                     j->shuffled = detail::encode_chunk(
                                                         j->raw, options.codec,
                                                         dtype_bytes(regions[j->region].dtype),
                                                         *j->frame);
                                                     j->stored = j->frame->bytes();
                                                   } else {
                                                     j->stored = j->raw;
                                                   }
                                                   j->digest = detail::sha256(j->stored);
                                                   return j;
                                                 }) &
                    tbb::make_filter<Job*, void>(tbb::filter_mode::serial_in_order, [&](Job* j) {
                      ChunkRef ref;
                      if (j->reused != nullptr) {
                        ref = *j->reused;
                        if (std::find(depends.begin(), depends.end(), ref.step) == depends.end()) {
                          depends.push_back(ref.step);
                        }
                        ++st.chunks_reused;
                      } else {
                        ref = {j->raw.size(),      j->hash,     step,         rank,
                               options.codec.kind, j->shuffled, shard.size(), j->stored.size()};
                        shard.append(j->stored);
                        frame_digests.push_back(j->digest);
                        ++st.chunks_written;
                      }
                      if (j->frame != nullptr) {
                        std::lock_guard lock(free_mutex);
                        free_frames.push_back(j->frame);
                        j->frame = nullptr;
                      }
                      part.regions[j->region].blocks[0].chunks.push_back(ref);
                    }));
  });
  const auto index_digest = detail::append_shard_index(shard, part);
  shard.finish();
  std::sort(depends.begin(), depends.end());
  part.depends_on = depends;
  part.shards[static_cast<std::size_t>(rank)] = {
      rank, shard.size(), detail::shard_digest(header, frame_digests, &index_digest)};
  st.written_bytes = shard.size();
  return part;
}

void Checkpointer::Impl::run_save(long step, CheckpointClock::time_point started) {
  SaveStatus st;
  std::string error;
  ErrorCategory category = ErrorCategory::io;
  Manifest part;
  try {
    part = write_shard(step, st);
  } catch (const Error& e) {
    error = e.what();
    category = e.category();
  } catch (const std::exception& e) {
    error = e.what();
    category = ErrorCategory::system;
  }
  if (options.partner) {
    // Every rank takes part in the exchange, even one whose shard failed (it sends nothing).
    std::string partner_error;
    try {
      partner_error = send_to_partner(step);
    } catch (const std::exception& e) {
      partner_error = e.what();
      category = ErrorCategory::distributed;
    }
    if (error.empty() && !partner_error.empty()) error = "partner copy: " + partner_error;
  }
  if (options.xor_group > 0) {
    // Every rank takes part, even one whose shard failed (checkpoint_xor.cpp).
    std::string parity_error;
    try {
      parity_error = write_parity(step, error.empty());
    } catch (const std::exception& e) {
      parity_error = e.what();
      category = ErrorCategory::distributed;
    }
    if (error.empty() && !parity_error.empty()) error = "XOR parity: " + parity_error;
  }
  if (!error.empty()) {
    // Our half-written shard goes now; rank 0 removes the folder once everyone has answered.
    std::error_code ec;
    fs::remove(
        fs::path(detail::temp_step_folder(save_folder(), step)) / detail::shard_name(rt.rank()),
        ec);
  }
  {
    std::lock_guard lock(status_mutex);
    status.written_bytes = st.written_bytes;
    status.chunks_written = st.chunks_written;
    status.chunks_reused = st.chunks_reused;
  }
  try {
    commit(step, error, category, part, started);
  } catch (const std::exception& e) {
    // The commit messages themselves failed (MPI): the step stays a .tmp folder, never complete.
    std::lock_guard lock(status_mutex);
    status.state = SaveState::failed;
    status.error = e.what();
    failure = std::make_exception_ptr(Error(
        ErrorCategory::distributed, "checkpoint " + step_text(step) + " failed: " + e.what()));
  }
  bool committed = false;
  {
    std::lock_guard lock(status_mutex);
    committed = status.state == SaveState::committed;
  }
  // The same decision on every rank: all saw the same commit and count the same local commits.
  if (levels() && committed && options.drain_every > 0 &&
      local_commits % options.drain_every == 0) {
    start_drain(step, newest_local_manifest, started);
  }
  {
    std::lock_guard lock(status_mutex);
    reported = true;
  }
  settled.notify_all();
  // Off the commit's path, at the drain's low priority on the save's own thread: freeing an older
  // step's pages on a tmpfs took a tenth of a local commit. The next save() waits for it.
  if (committed) {
    detail::ThreadPriority priority;
    if (async) priority.lower();  // this thread ends here: nothing to put back
    prune_older_steps();
  }
}

void Checkpointer::Impl::prune_older_steps() {
  // Each folder by one rank: rank 0 the shared folder of a save without levels (the drain
  // prunes it with levels), each node's leader its node folder.
  const bool mine = levels() ? layout.leader_of(rt.rank()) == rt.rank() : rt.rank() == 0;
  if (!mine) return;
  const std::string& dir = save_folder();
  try {
    prune_checkpoints(dir, options.keep);
  } catch (const std::exception& e) {
    // The new step is committed; an older one left behind costs space, not data.
    log::warn("checkpoint: older steps in " + dir + " were not pruned: " + e.what());
  }
}

}  // namespace strata::io
