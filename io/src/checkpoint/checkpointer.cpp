// The Checkpointer: save() copies the protected regions into a staging buffer (an incremental
// save copies only the chunks whose XXH3 changed) and hands the rest to a background thread —
// chunk checksums and zstd on a low-priority oneTBB arena, the shard written (O_DIRECT where
// possible) and fsynced into step-N.tmp/, then the two-phase commit over a duplicated communicator
// (every rank's outcome gathered at rank 0, which writes the manifest, renames the folder, fsyncs,
// prunes, and broadcasts the decision). restore_latest() verifies before it writes anything.
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/runtime/base/round_up.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/checkpoint_reader.hpp"
#include "checkpoint/chunk_codec.hpp"
#include "checksum/sha256.hpp"
#include "files/file_io.hpp"
#include "files/publish_file.hpp"
#include "format/strata_format.hpp"
#include "strata/kernels/transform.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"

namespace strata::io {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using detail::BlockRecord;
using detail::ChunkRef;
using detail::Manifest;
using detail::RegionRecord;

enum class region_kind { block, stacked, rank_local };

struct protected_region {
  std::string name;
  DType dtype = DType::u8;
  std::span<std::byte> data;
  region_kind kind = region_kind::block;
  Shape global_shape;        // resolved for stacked regions by resolve_stacked()
  std::size_t first_row = 0;
  Shape local_shape;         // stacked and rank-local regions
  bool resolved = false;
  std::size_t staging_offset = 0;

  std::size_t row_bytes() const { return global_shape.row_elements() * dtype_bytes(dtype); }
  std::size_t rows() const { return row_bytes() == 0 ? 0 : data.size() / row_bytes(); }
};

// The geometry and chunks of this rank's block of a region at its last committed save.
struct previous_block {
  std::size_t first_row = 0;
  std::size_t rows = 0;
  std::uint64_t chunk_bytes = 0;
  std::vector<ChunkRef> chunks;
};

// An incremental save's look at one region before the copy: each chunk's XXH3, taken from the
// live data, and the previous save's frame when that chunk is unchanged (else nullptr: the chunk
// was copied into staging and is written). Empty when the region is copied whole.
struct chunk_scan {
  std::vector<std::uint64_t> hash;
  std::vector<const ChunkRef*> reuse;
};

// Creates `path` and any missing parents, each 0750.
void make_folder(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && parent != fs::path(path) && !fs::exists(parent)) make_folder(parent.string());
  if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
    int err = errno;
    throw_errno("cannot create checkpoint folder", err, {{"folder", path}});
  }
  ::chmod(path.c_str(), 0750);
}

void remove_folder(const std::string& path) noexcept {
  std::error_code ec;
  fs::remove_all(path, ec);
}

std::string step_text(long step) {
  std::string text = "step ";
  text += std::to_string(step);
  return text;
}

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

}  // namespace

struct Checkpointer::Impl {
  Runtime& rt;
  Executor& ex;
  CheckpointOptions options;
  std::unique_ptr<MpiContext> commit_mpi;  // the background thread's own communicator
  bool async = true;
  oneapi::tbb::task_arena arena;

  std::vector<protected_region> regions;
  PlacedRegion staging;
  std::vector<detail::FrameBuffer> frame_pool;  // reused by every save

  std::thread worker;
  mutable std::mutex status_mutex;
  SaveStatus status;
  std::exception_ptr failure;
  bool harvested = true;

  std::map<std::string, previous_block> previous;
  std::vector<chunk_scan> scans;  // one per region, filled by save() (see stage())
  int incremental_saves = 0;
  clock_type::time_point last_save_start = clock_type::now();
  RestoreReport last_restore;

  Impl(Runtime& r, Executor& e, CheckpointOptions o)
      : rt(r),
        ex(e),
        options(std::move(o)),
        arena(static_cast<int>(std::max(2u, e.threads())), 1,
              oneapi::tbb::task_arena::priority::low) {}

  // ---- save

  void resolve_stacked();
  std::size_t layout_staging();
  std::uint64_t stage();
  void harvest();
  void run_save(long step, clock_type::time_point started);
  Manifest write_shard(long step, SaveStatus& st);
  void commit(long step, const std::string& local_error, ErrorCategory local_category,
              const Manifest& part, clock_type::time_point started);

  // ---- restore

  std::string check_compatible(const Manifest& m, const protected_region& p) const;
  void read_into_staging(detail::StepReader& reader);
};

// Stacked regions learn their place: rows of every rank, in rank order (collective).
void Checkpointer::Impl::resolve_stacked() {
  for (protected_region& p : regions) {
    if (p.kind != region_kind::stacked || p.resolved) continue;
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
  for (protected_region& p : regions) {
    p.staging_offset = total;
    total += (p.data.size() + 63) / 64 * 64;
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
// copies only those that changed: unchanged state is read once and never copied or hashed again.
std::uint64_t Checkpointer::Impl::stage() {
  const bool reuse_allowed = options.incremental && incremental_saves < options.full_every;
  const std::size_t chunk = options.chunk_bytes;
  std::uint64_t raw = 0;
  scans.assign(regions.size(), chunk_scan{});
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const protected_region& p = regions[i];
    std::span<std::byte> to(staging.data() + p.staging_offset, p.data.size());
    raw += p.data.size();
    auto it = reuse_allowed ? previous.find(p.name) : previous.end();
    if (it == previous.end() || it->second.first_row != p.first_row ||
        it->second.rows != p.rows() || it->second.chunk_bytes != chunk) {
      parallel_copy(arena, p.data, to);
      continue;
    }
    const std::vector<ChunkRef>& old = it->second.chunks;
    chunk_scan& scan = scans[i];
    const std::size_t n = (p.data.size() + chunk - 1) / chunk;
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
  const std::string dir = options.dir;
  const std::string tmp = detail::temp_step_folder(dir, step);
  make_folder(dir);
  make_folder(tmp);
  const std::string path = (fs::path(tmp) / detail::shard_name(rank)).string();
  detail::AppendWriter shard(path, 0640);

  Manifest part;
  part.step = step;
  part.ranks = rt.size();
  part.codec = options.codec;
  part.shards.resize(static_cast<std::size_t>(rt.size()));
  for (int r = 0; r < rt.size(); ++r) {
    part.shards[static_cast<std::size_t>(r)] = {r, detail::kShardHeaderBytes, std::string(64, '0')};
  }

  std::array<std::byte, detail::kShardHeaderBytes> header{};
  std::memcpy(header.data(), detail::kShardMagic, sizeof detail::kShardMagic);
  const std::uint32_t version = detail::kCheckpointFormatVersion;
  const auto rank32 = static_cast<std::uint32_t>(rank);
  const auto ranks32 = static_cast<std::uint32_t>(rt.size());
  const auto step64 = static_cast<std::uint64_t>(step);
  std::memcpy(header.data() + 8, &version, 4);
  std::memcpy(header.data() + 12, &rank32, 4);
  std::memcpy(header.data() + 16, &step64, 8);
  std::memcpy(header.data() + 24, &ranks32, 4);
  shard.append(header);

  struct job {
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
  std::vector<job> jobs;
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const protected_region& p = regions[i];
    RegionRecord rec;
    rec.name = p.name;
    rec.dtype = p.dtype;
    rec.global_shape = p.global_shape;
    rec.rank_local = p.kind == region_kind::rank_local;
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
        tokens,
        tbb::make_filter<void, job*>(tbb::filter_mode::serial_in_order,
                                     [&](tbb::flow_control& fc) -> job* {
                                       if (next == jobs.size()) {
                                         fc.stop();
                                         return nullptr;
                                       }
                                       return &jobs[next++];
                                     }) &
            tbb::make_filter<job*, job*>(
                tbb::filter_mode::parallel,
                [&](job* j) {
                  const chunk_scan& scan = scans[j->region];
                  if (scan.hash.empty()) {
                    j->hash = detail::checksum(j->raw);
                  } else {
                    // Hashed by stage(); an unchanged chunk was never copied into staging.
                    j->hash = scan.hash[j->index];
                    j->reused = scan.reuse[j->index];
                    if (j->reused != nullptr) return j;
                  }
                  if (compress) {
                    {
                      std::lock_guard lock(free_mutex);
                      j->frame = free_frames.back();
                      free_frames.pop_back();
                    }
                    j->shuffled = detail::encode_chunk(j->raw, options.codec,
                                                       dtype_bytes(regions[j->region].dtype),
                                                       *j->frame);
                    j->stored = j->frame->bytes();
                  } else {
                    j->stored = j->raw;
                  }
                  j->digest = detail::sha256(j->stored);
                  return j;
                }) &
            tbb::make_filter<job*, void>(tbb::filter_mode::serial_in_order, [&](job* j) {
              ChunkRef ref;
              if (j->reused != nullptr) {
                ref = *j->reused;
                if (std::find(depends.begin(), depends.end(), ref.step) == depends.end()) {
                  depends.push_back(ref.step);
                }
                ++st.chunks_reused;
              } else {
                ref = {j->raw.size(), j->hash,      step,  rank, options.codec.kind,
                       j->shuffled,  shard.size(), j->stored.size()};
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
  shard.finish();
  std::sort(depends.begin(), depends.end());
  part.depends_on = depends;
  part.shards[static_cast<std::size_t>(rank)] = {rank, shard.size(),
                                                 detail::shard_digest(header, frame_digests)};
  st.written_bytes = shard.size();
  return part;
}

// Phase two: every rank's outcome meets at rank 0; the decision comes back to every rank.
void Checkpointer::Impl::commit(long step, const std::string& local_error,
                                ErrorCategory local_category, const Manifest& part,
                                clock_type::time_point started) {
  MpiContext& mpi = *commit_mpi;
  std::string mine = local_error.empty() ? detail::encode_manifest(part) : "!" + local_error;
  mine.insert(0, 1, static_cast<char>('0' + static_cast<int>(local_category)));
  auto parts = mpi.gather_bytes(std::as_bytes(std::span(mine.data(), mine.size())), 0);

  std::string decision;  // empty: committed; else "<category digit><message>"
  if (mpi.rank() == 0) {
    for (std::size_t r = 0; r < parts.size() && decision.empty(); ++r) {
      std::string text(reinterpret_cast<const char*>(parts[r].data()), parts[r].size());
      if (text.size() > 1 && text[1] == '!') {
        decision = text[0];
        decision += "rank " + std::to_string(r) + ": " + text.substr(2);
      }
    }
    if (decision.empty()) {
      try {
        Manifest m;
        m.step = step;
        m.ranks = mpi.size();
        m.created = detail::utc_timestamp();
        m.codec = options.codec;
        m.shards.resize(static_cast<std::size_t>(mpi.size()));
        for (std::size_t r = 0; r < parts.size(); ++r) {
          std::string text(reinterpret_cast<const char*>(parts[r].data()) + 1, parts[r].size() - 1);
          Manifest p = detail::decode_manifest(text, "rank " + std::to_string(r) + " commit message");
          m.shards[r] = p.shards[r];
          for (long d : p.depends_on) {
            if (std::find(m.depends_on.begin(), m.depends_on.end(), d) == m.depends_on.end()) {
              m.depends_on.push_back(d);
            }
          }
          for (RegionRecord& region : p.regions) {
            RegionRecord* into = nullptr;
            for (RegionRecord& existing : m.regions) {
              if (existing.name == region.name) into = &existing;
            }
            if (into == nullptr) {
              m.regions.push_back(std::move(region));
            } else {
              if (!(into->global_shape == region.global_shape) || into->dtype != region.dtype) {
                throw Error(ErrorCategory::invalid_argument,
                            "ranks disagree on a region's dtype or global shape",
                            {{"region", region.name}, {"rank", std::to_string(r)}});
              }
              for (BlockRecord& b : region.blocks) into->blocks.push_back(std::move(b));
            }
          }
        }
        std::sort(m.depends_on.begin(), m.depends_on.end());
        const std::string tmp = detail::temp_step_folder(options.dir, step);
        const std::string final_folder = detail::step_folder(options.dir, step);
        detail::write_file_durably((fs::path(tmp) / detail::kManifestName).string(),
                                   detail::encode_manifest(m));
        // Saving a step that is already committed (a restart repeating it): the old folder
        // steps aside only once the new one is complete, and goes after the new one is in place.
        std::string replaced;
        if (fs::exists(final_folder)) {
          replaced = final_folder + ".replaced";
          remove_folder(replaced);
          if (::rename(final_folder.c_str(), replaced.c_str()) != 0) {
            throw_errno("cannot move the old step aside", errno, {{"folder", final_folder}});
          }
        }
        if (::rename(tmp.c_str(), final_folder.c_str()) != 0) {
          int err = errno;
          throw_errno("cannot rename the finished checkpoint", err, {{"folder", tmp}});
        }
        detail::sync_folder(options.dir, {{"folder", options.dir}});
        if (!replaced.empty()) remove_folder(replaced);
        prune_checkpoints(options.dir, options.keep);
      } catch (const Error& e) {
        decision = static_cast<char>('0' + static_cast<int>(e.category()));
        decision += "rank 0 (commit): ";
        decision += e.what();
      } catch (const std::exception& e) {
        decision = static_cast<char>('0' + static_cast<int>(ErrorCategory::system));
        decision += "rank 0 (commit): ";
        decision += e.what();
      }
    }
    if (!decision.empty()) remove_folder(detail::temp_step_folder(options.dir, step));
  }
  auto shared = mpi.broadcast_bytes(std::as_bytes(std::span(decision.data(), decision.size())), 0);
  decision.assign(reinterpret_cast<const char*>(shared.data()), shared.size());

  std::lock_guard lock(status_mutex);
  status.total_seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  if (decision.empty()) {
    status.state = SaveState::committed;
    for (std::size_t i = 0; i < regions.size(); ++i) {
      const protected_region& p = regions[i];
      const BlockRecord& b = part.regions[i].blocks[0];
      previous[p.name] = {p.first_row, p.rows(), options.chunk_bytes, b.chunks};
    }
    const bool any_reused = status.chunks_reused > 0;
    incremental_saves = any_reused ? incremental_saves + 1 : 0;
    failure = nullptr;
  } else {
    status.state = SaveState::failed;
    auto category = static_cast<ErrorCategory>(decision[0] - '0');
    status.error = decision.substr(1);
    if (category == ErrorCategory::invalid_argument) category = ErrorCategory::distributed;
    failure = std::make_exception_ptr(
        Error(category, "checkpoint " + step_text(step) + " failed: " + status.error,
              {{"folder", options.dir}, {"step", std::to_string(step)}}));
  }
}

void Checkpointer::Impl::run_save(long step, clock_type::time_point started) {
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
  if (!error.empty()) {
    // Our half-written shard goes now; rank 0 removes the folder once everyone has answered.
    std::error_code ec;
    fs::remove(fs::path(detail::temp_step_folder(options.dir, step)) /
                   detail::shard_name(rt.rank()), ec);
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
    failure = std::make_exception_ptr(
        Error(ErrorCategory::distributed, "checkpoint " + step_text(step) + " failed: " + e.what()));
  }
}

// ---- restore

std::string Checkpointer::Impl::check_compatible(const Manifest& m, const protected_region& p) const {
  const RegionRecord* r = m.find(p.name);
  std::string where = "checkpoint " + step_text(m.step) + ", region '" + p.name + "': ";
  if (r == nullptr) return where + "not in the checkpoint";
  if (r->dtype != p.dtype) {
    return where + "dtype " + std::string(to_string(r->dtype)) + " in the checkpoint, " +
           std::string(to_string(p.dtype)) + " protected";
  }
  if (p.kind == region_kind::rank_local) {
    if (!r->rank_local) return where + "rank-local now, global in the checkpoint";
    if (m.ranks != rt.size()) {
      return where + "rank-local state needs the same number of ranks (" + std::to_string(m.ranks) +
             " in the checkpoint, " + std::to_string(rt.size()) + " now)";
    }
    return {};
  }
  if (r->rank_local) return where + "global now, rank-local in the checkpoint";
  if (!(r->global_shape == p.global_shape)) {
    return where + "global shape " + r->global_shape.to_string() + " in the checkpoint, " +
           p.global_shape.to_string() + " protected";
  }
  return {};
}

void Checkpointer::Impl::read_into_staging(detail::StepReader& reader) {
  arena.execute([&] {
    for (const protected_region& p : regions) {
      const RegionRecord& r = *reader.manifest().find(p.name);
      std::span<std::byte> out(staging.data() + p.staging_offset, p.data.size());
      if (p.kind == region_kind::rank_local) {
        reader.read_rank_block(r, rt.rank(), out);
      } else {
        reader.read_rows(r, p.first_row, p.rows(), out);
      }
    }
  });
}

// ---- public

Checkpointer::Checkpointer(Runtime& runtime, Executor& executor, CheckpointOptions options) {
  if (options.keep < 1) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint keep must be at least 1",
                {{"keep", std::to_string(options.keep)}});
  }
  if (options.chunk_bytes == 0 || options.chunk_bytes > detail::kMaxCheckpointChunkBytes) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint chunk_bytes must be in (0, 1 GiB]",
                {{"chunk_bytes", std::to_string(options.chunk_bytes)}});
  }
  if (options.codec.kind == Codec::Kind::zstd && (options.codec.level < 1 || options.codec.level > 22)) {
    throw Error(ErrorCategory::invalid_argument, "zstd level must be in [1, 22]",
                {{"level", std::to_string(options.codec.level)}});
  }
  if (options.dir.empty()) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint folder is empty");
  }
  if (options.full_every < 1) options.full_every = 1;
  impl_ = std::make_unique<Impl>(runtime, executor, std::move(options));
  Impl& d = *impl_;
  // A failure to create the folder on rank 0 must reach every rank, or they would hang later.
  std::string problem;
  if (runtime.rank() == 0) {
    try {
      make_folder(d.options.dir);
      for (long step : detail::temp_step_folders(d.options.dir)) {
        remove_folder(detail::temp_step_folder(d.options.dir, step));
      }
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(d.options.dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 9 && name.ends_with(".replaced")) {
          const std::string original = entry.path().string().substr(0, entry.path().string().size() - 9);
          if (fs::exists(original)) {
            remove_folder(entry.path().string());
          } else {
            fs::rename(entry.path(), original, ec);
          }
        }
      }
    } catch (const Error& e) {
      problem = e.message();  // the folder is named once, in the context below
    }
  }
  if (runtime.size() > 1) {
    auto shared = runtime.mpi().broadcast_bytes(std::as_bytes(std::span(problem.data(), problem.size())), 0);
    problem.assign(reinterpret_cast<const char*>(shared.data()), shared.size());
  }
  if (!problem.empty()) {
    throw Error(ErrorCategory::io, "cannot use the checkpoint folder: " + problem,
                {{"folder", d.options.dir}});
  }
  d.commit_mpi = runtime.mpi().duplicate();
  d.async = runtime.size() == 1 || runtime.mpi().thread_level() == MpiThreadLevel::multiple;
  if (!d.async) {
    log::warn_once("checkpoint-sync",
                   "MPI lacks MPI_THREAD_MULTIPLE: checkpoints are written synchronously");
  }
}

Checkpointer::~Checkpointer() {
  if (!impl_) return;
  try {
    impl_->harvest();
  } catch (...) {
    log::error("checkpoint: error while finishing the last save");
  }
}

void Checkpointer::protect_bytes(std::string name, DType dtype, std::span<std::byte> rows,
                                 GlobalBlock block) {
  Impl& d = *impl_;
  d.harvest();  // the background save reads the region list: change it only when none runs
  for (const protected_region& p : d.regions) {
    if (p.name == name) {
      throw Error(ErrorCategory::invalid_argument, "region already protected", {{"region", name}});
    }
  }
  if (name.empty() || name.size() > 255) {
    throw Error(ErrorCategory::invalid_argument, "region names are 1 to 255 bytes", {{"region", name}});
  }
  if (block.global_shape.rank() == 0) {
    throw Error(ErrorCategory::invalid_argument, "global shape has no dimensions", {{"region", name}});
  }
  (void)block.global_shape.byte_count(dtype);  // overflow check
  protected_region p;
  p.name = std::move(name);
  p.dtype = dtype;
  p.data = rows;
  p.global_shape = block.global_shape;
  p.first_row = block.first_row;
  p.resolved = true;
  const std::size_t row_bytes = p.row_bytes();
  if (row_bytes == 0 || rows.size() % row_bytes != 0) {
    throw Error(ErrorCategory::invalid_argument, "protected span is not whole rows of the global shape",
                {{"region", p.name}, {"bytes", std::to_string(rows.size())},
                 {"row_bytes", std::to_string(row_bytes)}});
  }
  if (block.first_row > block.global_shape[0] || p.rows() > block.global_shape[0] - block.first_row) {
    throw Error(ErrorCategory::invalid_argument, "protected rows lie outside the global shape",
                {{"region", p.name}, {"first_row", std::to_string(block.first_row)},
                 {"rows", std::to_string(p.rows())}, {"global_shape", block.global_shape.to_string()}});
  }
  d.regions.push_back(std::move(p));
}

void Checkpointer::protect_stacked(std::string name, DType dtype, std::span<std::byte> data,
                                   Shape local_shape) {
  if (local_shape.rank() == 0) local_shape.push_back(1);
  Shape provisional = local_shape;
  protect_bytes(std::move(name), dtype, data, {provisional, 0});
  protected_region& p = impl_->regions.back();
  p.kind = region_kind::stacked;
  p.local_shape = local_shape;
  p.resolved = false;
}

void Checkpointer::protect(std::string name, MappedFile& file) {
  if (file.mode() == MapMode::read_only) {
    throw Error(ErrorCategory::invalid_argument, "a protected mapped file must be writable",
                {{"region", name}, {"file", file.path()}});
  }
  std::span<std::byte> bytes = file.size() == 0 ? std::span<std::byte>() : file.writable_bytes(0, file.size());
  Shape shape{static_cast<std::size_t>(file.size())};
  protect_bytes(std::move(name), DType::u8, bytes, {shape, 0});
  protected_region& p = impl_->regions.back();
  p.kind = region_kind::rank_local;
  p.local_shape = shape;
}

bool Checkpointer::due(long step) {
  Impl& d = *impl_;
  if (d.options.every_steps > 0 && step % d.options.every_steps == 0) return true;
  if (d.options.every_seconds <= 0) return false;
  char yes = std::chrono::duration<double>(clock_type::now() - d.last_save_start).count() >=
                     d.options.every_seconds
                 ? 1
                 : 0;
  if (d.rt.size() > 1) {
    auto shared = d.rt.mpi().broadcast_bytes(std::as_bytes(std::span(&yes, 1)), 0);
    yes = static_cast<char>(shared.at(0));
  }
  return yes != 0;
}

void Checkpointer::save(long step) {
  Impl& d = *impl_;
  if (step < 0) {
    throw Error(ErrorCategory::invalid_argument, "checkpoint step must not be negative",
                {{"step", std::to_string(step)}});
  }
  d.harvest();
  d.resolve_stacked();
  const auto started = clock_type::now();
  d.last_save_start = started;
  d.layout_staging();
  const std::uint64_t raw = d.stage();
  {
    std::lock_guard lock(d.status_mutex);
    d.status = SaveStatus{};
    d.status.step = step;
    d.status.state = SaveState::in_flight;
    d.status.raw_bytes = raw;
    d.status.copy_seconds = std::chrono::duration<double>(clock_type::now() - started).count();
    d.failure = nullptr;
  }
  d.harvested = false;
  if (d.async) {
    d.worker = std::thread([&d, step, started] { d.run_save(step, started); });
  } else {
    d.run_save(step, started);
  }
}

SaveStatus Checkpointer::wait() {
  Impl& d = *impl_;
  if (d.worker.joinable()) d.worker.join();
  d.harvested = true;
  std::exception_ptr failure;
  SaveStatus st;
  {
    std::lock_guard lock(d.status_mutex);
    st = d.status;
    failure = d.failure;
  }
  if (st.state == SaveState::committed) d.rt.note_checkpoint_seconds(st.total_seconds);
  if (failure) std::rethrow_exception(failure);
  return st;
}

SaveStatus Checkpointer::status() const {
  std::lock_guard lock(impl_->status_mutex);
  return impl_->status;
}

std::optional<long> Checkpointer::restore_latest() {
  Impl& d = *impl_;
  d.harvest();
  d.resolve_stacked();
  d.last_restore = RestoreReport{};
  MpiContext& mpi = d.rt.mpi();

  // Rank 0 decides the candidates, so every rank walks the same list.
  std::vector<long> candidates;
  if (d.rt.rank() == 0) {
    for (long step : detail::step_folders(d.options.dir)) {
      if (fs::exists(detail::manifest_path(d.options.dir, step))) candidates.push_back(step);
    }
  }
  if (d.rt.size() > 1) {
    auto bytes = mpi.broadcast_bytes(std::as_bytes(std::span(candidates)), 0);
    candidates.resize(bytes.size() / sizeof(long));
    std::memcpy(candidates.data(), bytes.data(), bytes.size());
  }
  std::sort(candidates.rbegin(), candidates.rend());
  d.layout_staging();

  for (long step : candidates) {
    // '0' usable, '1' damaged (skip), '2' incompatible (the caller's mistake: throw).
    std::string outcome = "0";
    std::optional<Manifest> manifest;
    try {
      detail::StepReader reader(d.options.dir, step);
      std::string incompatible;
      for (const protected_region& p : d.regions) {
        incompatible = d.check_compatible(reader.manifest(), p);
        if (!incompatible.empty()) break;
      }
      if (!incompatible.empty()) {
        outcome = "2" + incompatible;
      } else {
        d.read_into_staging(reader);
        manifest = reader.manifest();
      }
    } catch (const std::exception& e) {
      outcome = "1";
      outcome += e.what();
    }
    std::vector<std::vector<std::byte>> all;
    if (d.rt.size() > 1) {
      all = mpi.allgather_bytes(std::as_bytes(std::span(outcome.data(), outcome.size())));
    } else {
      all.emplace_back(reinterpret_cast<const std::byte*>(outcome.data()),
                       reinterpret_cast<const std::byte*>(outcome.data()) + outcome.size());
    }
    std::string damaged;
    std::string incompatible;
    for (std::size_t r = 0; r < all.size(); ++r) {
      std::string text(reinterpret_cast<const char*>(all[r].data()), all[r].size());
      if (text[0] == '1') {
        if (!damaged.empty()) damaged += "; ";
        damaged += "rank " + std::to_string(r) + ": " + text.substr(1);
      } else if (text[0] == '2' && incompatible.empty()) {
        incompatible = text.substr(1);
      }
    }
    if (!damaged.empty()) {
      d.last_restore.skipped.push_back({step, damaged});
      if (d.rt.rank() == 0) {
        log::warn("checkpoint " + step_text(step) + " skipped, falling back to an older one: " + damaged);
      }
      continue;
    }
    if (!incompatible.empty()) throw Error(ErrorCategory::invalid_argument, incompatible);

    for (const protected_region& p : d.regions) {
      parallel_copy(d.arena, std::span(d.staging.data() + p.staging_offset, p.data.size()), p.data);
    }
    // The next save can reuse what this step holds when this rank's blocks are unchanged.
    d.previous.clear();
    d.incremental_saves = 0;
    for (const protected_region& p : d.regions) {
      for (const BlockRecord& b : manifest->find(p.name)->blocks) {
        if (b.rank == d.rt.rank() && manifest->ranks == d.rt.size() && b.first_row == p.first_row &&
            b.rows == p.rows()) {
          d.previous[p.name] = {p.first_row, p.rows(), manifest->find(p.name)->chunk_bytes, b.chunks};
        }
      }
    }
    d.last_save_start = clock_type::now();
    d.last_restore.step = step;
    return step;
  }
  return std::nullopt;
}

const RestoreReport& Checkpointer::last_restore() const noexcept { return impl_->last_restore; }

const CheckpointOptions& Checkpointer::options() const noexcept { return impl_->options; }

}  // namespace strata::io
