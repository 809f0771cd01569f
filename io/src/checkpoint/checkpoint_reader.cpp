// SPDX-License-Identifier: Apache-2.0
// StepReader: shard files opened once per (step, rank), frames read with pread in parallel on
// oneTBB, decoded straight into the caller's buffer when a chunk is wanted whole.
#include "checkpoint/checkpoint_reader.hpp"

#include <fcntl.h>
#include <oneapi/tbb/parallel_for.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "checkpoint/chunk_codec.hpp"
#include "checkpoint/shard_index.hpp"
#include "checksum/sha256.hpp"
#include "checksum/xxh3.hpp"
#include "files/file_io.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

// Raw frames are read and hashed in pieces this large, so the hash reads from L2, not memory.
constexpr std::size_t kVerifyPieceBytes = 256 * 1024;

XXH3_state_t* thread_xxh3_state() {
  struct StateDeleter {
    void operator()(XXH3_state_t* s) const noexcept { XXH3_freeState(s); }
  };
  thread_local std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
  if (!state) throw Error(ErrorCategory::resource, "cannot allocate an XXH3 state");
  return state.get();
}

std::string chunk_where(const std::string& shard, std::size_t index, std::uint64_t offset) {
  std::string where = shard;
  where += " chunk ";
  where += std::to_string(index);
  where += " at byte ";
  where += std::to_string(offset);
  return where;
}

}  // namespace

StepReader::StepReader(std::string dir, long step)
    : dir_(std::move(dir)), manifest_(read_manifest(dir_, step)) {}

StepReader::StepReader(std::string dir, Manifest manifest)
    : dir_(std::move(dir)), manifest_(std::move(manifest)) {}

const RegionRecord& StepReader::global_region(const std::string& region) const {
  const RegionRecord* r = manifest_.find(region);
  if (r == nullptr) {
    throw Error(ErrorCategory::invalid_argument, "no such region in the checkpoint",
                {{"region", region}, {"step", std::to_string(manifest_.step)}});
  }
  if (r->rank_local) {
    throw Error(ErrorCategory::invalid_argument, "a rank-local region has no global array",
                {{"region", region}});
  }
  return *r;
}

StepReader::~StepReader() {
  for (auto& [key, s] : shards_) {
    if (s.fd >= 0) ::close(s.fd);
  }
}

const StepReader::Shard& StepReader::shard(long step, int rank) {
  auto key = std::make_pair(step, rank);
  if (auto it = shards_.find(key); it != shards_.end()) return it->second;
  Shard s;
  s.path = shard_path(dir_, step, rank);
  // O_NONBLOCK: a FIFO planted as a shard must not block open(); the type check refuses it.
  s.fd = ::open(s.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (s.fd < 0) {
    int err = errno;
    // A missing shard is a damaged checkpoint (restore falls back past it), not an I/O failure.
    if (err == ENOENT) {
      throw_errno(ErrorCategory::corrupt_data, "shard missing", err,
                  {{"step", std::to_string(step)}, {"shard", s.path}});
    }
    throw_errno("shard unreadable", err, {{"step", std::to_string(step)}, {"shard", s.path}});
  }
  struct stat st {};
  if (::fstat(s.fd, &st) != 0) {
    int err = errno;
    ::close(s.fd);
    throw_errno("cannot stat shard", err, {{"shard", s.path}});
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(s.fd);
    throw Error(ErrorCategory::corrupt_data, "shard is not a regular file",
                {{"step", std::to_string(step)}, {"shard", s.path}});
  }
  s.bytes = static_cast<std::uint64_t>(st.st_size);
  if (step == manifest_.step) {
    const std::uint64_t expected = manifest_.shards[static_cast<std::size_t>(rank)].bytes;
    if (s.bytes != expected) {
      ::close(s.fd);
      throw Error(ErrorCategory::corrupt_data,
                  s.bytes < expected ? "shard truncated" : "shard longer than the manifest says",
                  {{"shard", s.path}, {"bytes", std::to_string(s.bytes)},
                   {"expected", std::to_string(expected)}});
    }
  }
  // The header must name this step and rank (and, for this step, what the manifest says the
  // rank holds): a shard copied in from elsewhere under a resealed manifest is refused here.
  try {
    std::array<std::byte, kShardHeaderBytes> header;
    read_all(s.fd, s.path, 0, header);
    (void)ShardHeader::decode(header, expectation(step, rank), s.path);
  } catch (...) {
    ::close(s.fd);
    throw;
  }
  return shards_.emplace(key, s).first->second;
}

ShardExpectation StepReader::expectation(long step, int rank) const {
  ShardExpectation e{step, rank, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  if (step != manifest_.step) return e;  // an older step's shard: its manifest is not ours
  e.version = manifest_.version == 2 ? 2u : kShardFormatVersion;
  e.ranks = manifest_.ranks;
  e.regions = 0;
  e.raw_bytes = 0;
  for (const RegionRecord& region : manifest_.regions) {
    for (const BlockRecord& b : region.blocks) {
      if (b.rank != rank) continue;
      ++*e.regions;
      *e.raw_bytes += b.rows * region.row_bytes();
    }
  }
  return e;
}

void StepReader::load_index(int rank) {
  if (manifest_.version == 2 || indexes_.count(rank) != 0) return;
  const Shard& s = shard(manifest_.step, rank);
  LoadedIndex loaded;
  ShardIndex index = read_shard_index(s.fd, s.bytes, manifest_.step, rank, s.path, &loaded.digest);
  loaded.offset = index.offset;
  auto refuse = [&](const std::string& field, const std::string& what) {
    throw Error(ErrorCategory::corrupt_data, "shard chunk index " + what,
                {{"shard", s.path}, {"field", field}});
  };
  // Where each index block's entries begin.
  std::vector<std::size_t> first(index.blocks.size() + 1, 0);
  for (std::size_t i = 0; i < index.blocks.size(); ++i) {
    first[i + 1] = first[i] + static_cast<std::size_t>(index.blocks[i].chunks);
  }
  std::vector<bool> used(index.blocks.size(), false);
  std::size_t matched = 0;
  for (RegionRecord& region : manifest_.regions) {
    const std::uint64_t hash = region_name_hash(region.name);
    const std::uint64_t row_bytes = region.row_bytes();
    for (BlockRecord& b : region.blocks) {
      if (b.rank != rank) continue;
      std::size_t i = 0;
      while (i < index.blocks.size() &&
             (used[i] || index.blocks[i].region_hash != hash ||
              index.blocks[i].first_row != b.first_row || index.blocks[i].rows != b.rows)) {
        ++i;
      }
      const std::string field = "region '" + region.name + "'";
      if (i == index.blocks.size()) refuse(field, "does not list the manifest's block of rows");
      if (index.blocks[i].chunks != b.chunk_count) {
        refuse(field, "lists " + std::to_string(index.blocks[i].chunks) +
                          " chunks where the manifest counts " + std::to_string(b.chunk_count));
      }
      used[i] = true;
      ++matched;
      std::vector<ChunkRef> chunks(
          index.entries.begin() + static_cast<std::ptrdiff_t>(first[i]),
          index.entries.begin() + static_cast<std::ptrdiff_t>(first[i + 1]));
      std::uint64_t covered = 0;
      for (const ChunkRef& c : chunks) {
        if (c.raw_bytes > region.chunk_bytes) refuse(field, "holds a chunk over chunk_bytes");
        if (c.step != manifest_.step &&
            std::find(manifest_.depends_on.begin(), manifest_.depends_on.end(), c.step) ==
                manifest_.depends_on.end()) {
          refuse(field, "references step " + std::to_string(c.step) +
                            ", which the manifest's depends_on does not list");
        }
        covered += c.raw_bytes;  // at most chunk_count * 1 GiB: no overflow
      }
      if (covered != b.rows * row_bytes) refuse(field, "chunks do not cover the block");
      b.chunks = std::move(chunks);
    }
  }
  if (matched != index.blocks.size()) {
    refuse("blocks", "lists blocks the manifest does not have");
  }
  indexes_.emplace(rank, loaded);
}

const std::vector<ChunkRef>& StepReader::chunks_of(const BlockRecord& block) {
  if (manifest_.version != 2) load_index(block.rank);
  if (block.chunks.size() != block.chunk_count) {
    // Only the reader's own manifest receives the index's entries.
    throw Error(ErrorCategory::invalid_argument,
                "a block not of this reader's manifest has no chunk entries",
                {{"rank", std::to_string(block.rank)}, {"step", std::to_string(manifest_.step)}});
  }
  return block.chunks;
}

void StepReader::verify_shard(int rank) {
  if (rank < 0 || rank >= manifest_.ranks) {
    throw Error(ErrorCategory::invalid_argument, "no such shard rank", {{"rank", std::to_string(rank)}});
  }
  const Shard& s = shard(manifest_.step, rank);
  load_index(rank);
  const LoadedIndex* index = manifest_.version == 2 ? nullptr : &indexes_.at(rank);
  // The frames this shard holds, in file order; they must tile it after the header, up to the
  // chunk index (format 3) or the end.
  std::vector<const ChunkRef*> frames;
  for (const RegionRecord& region : manifest_.regions) {
    for (const BlockRecord& b : region.blocks) {
      for (const ChunkRef& c : b.chunks) {
        if (c.step == manifest_.step && c.rank == rank) frames.push_back(&c);
      }
    }
  }
  std::sort(frames.begin(), frames.end(),
            [](const ChunkRef* a, const ChunkRef* b) { return a->offset < b->offset; });
  std::uint64_t end = kShardHeaderBytes;
  for (const ChunkRef* c : frames) {
    if (c->offset != end) {
      throw Error(ErrorCategory::corrupt_data, "shard frames do not tile the file",
                  {{"shard", s.path}, {"offset", std::to_string(c->offset)}});
    }
    end += c->stored_bytes;
  }
  if (end != (index != nullptr ? index->offset : s.bytes)) {
    throw Error(ErrorCategory::corrupt_data, "shard holds bytes no frame accounts for",
                {{"shard", s.path}});
  }
  std::array<std::byte, kShardHeaderBytes> header;
  read_all(s.fd, s.path, 0, header);
  (void)ShardHeader::decode(header, expectation(manifest_.step, rank), s.path);
  std::vector<Sha256::digest_type> digests(frames.size());
  oneapi::tbb::parallel_for(std::size_t{0}, frames.size(), [&](std::size_t i) {
    std::vector<std::byte> frame(static_cast<std::size_t>(frames[i]->stored_bytes));
    read_all(s.fd, s.path, frames[i]->offset, frame);
    digests[i] = sha256(frame);
  });
  if (shard_digest(header, digests, index != nullptr ? &index->digest : nullptr) !=
      manifest_.shards[static_cast<std::size_t>(rank)].sha256) {
    throw Error(ErrorCategory::corrupt_data, "shard SHA-256 does not match the manifest",
                {{"shard", s.path}});
  }
}

void StepReader::read_chunks(const RegionRecord& region, const BlockRecord& block,
                             std::uint64_t first_byte, std::uint64_t last_byte, std::byte* out) {
  struct Item {
    const ChunkRef* ref;
    const Shard* shard;
    std::size_t index;
    std::uint64_t chunk_start;
  };
  std::vector<Item> items;
  std::uint64_t start = 0;
  const std::vector<ChunkRef>& chunks = chunks_of(block);
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const ChunkRef& ref = chunks[c];
    const std::uint64_t end = start + ref.raw_bytes;
    if (end > first_byte && start < last_byte) {
      const Shard& s = shard(ref.step, ref.rank);  // opened here, sequentially
      if (ref.offset + ref.stored_bytes > s.bytes) {
        throw Error(ErrorCategory::corrupt_data, "chunk frame lies past the end of its shard",
                    {{"chunk", chunk_where(s.path, c, ref.offset)}});
      }
      items.push_back({&ref, &s, c, start});
    }
    start = end;
  }
  oneapi::tbb::parallel_for(std::size_t{0}, items.size(), [&](std::size_t i) {
    const Item& it = items[i];
    const ChunkRef& ref = *it.ref;
    const std::uint64_t lo = std::max(first_byte, it.chunk_start);
    const std::uint64_t hi = std::min(last_byte, it.chunk_start + ref.raw_bytes);
    const std::string where = chunk_where(it.shard->path, it.index, ref.offset);
    const bool whole = lo == it.chunk_start && hi == it.chunk_start + ref.raw_bytes;
    std::byte* target = out + (lo - first_byte);
    std::vector<std::byte> raw_copy;
    std::span<std::byte> raw(target, static_cast<std::size_t>(ref.raw_bytes));
    if (!whole) {
      raw_copy.resize(static_cast<std::size_t>(ref.raw_bytes));
      raw = raw_copy;
    }
    if (ref.codec == Codec::Kind::none && ref.stored_bytes == ref.raw_bytes) {
      // Read straight into place, in pieces hashed while they are still in L2.
      XXH3_state_t* state = thread_xxh3_state();
      XXH3_64bits_reset(state);
      for (std::size_t at = 0; at < raw.size(); at += kVerifyPieceBytes) {
        auto piece = raw.subspan(at, std::min(kVerifyPieceBytes, raw.size() - at));
        read_all(it.shard->fd, it.shard->path, ref.offset + at, piece);
        XXH3_64bits_update(state, piece.data(), piece.size());
      }
      if (XXH3_64bits_digest(state) != ref.raw_hash) {
        throw Error(ErrorCategory::corrupt_data, "chunk XXH3 checksum mismatch", {{"chunk", where}});
      }
    } else {
      std::vector<std::byte> stored(static_cast<std::size_t>(ref.stored_bytes));
      read_all(it.shard->fd, it.shard->path, ref.offset, stored);
      decode_chunk(stored, ref.codec, ref.shuffled, dtype_bytes(region.dtype), raw, ref.raw_hash,
                   where);
    }
    if (!whole) std::memcpy(target, raw.data() + (lo - it.chunk_start), hi - lo);
  });
}

void StepReader::read_rows(const RegionRecord& region, std::uint64_t first_row, std::uint64_t rows,
                           std::span<std::byte> out) {
  const std::uint64_t row_bytes = region.row_bytes();
  if (out.size() != rows * row_bytes || first_row + rows > region.global_shape[0]) {
    throw Error(ErrorCategory::invalid_argument, "row range does not fit the checkpointed region",
                {{"region", region.name}, {"first_row", std::to_string(first_row)},
                 {"rows", std::to_string(rows)}});
  }
  std::uint64_t covered = 0;
  for (const BlockRecord& b : region.blocks) {
    const std::uint64_t lo = std::max(first_row, b.first_row);
    const std::uint64_t hi = std::min(first_row + rows, b.first_row + b.rows);
    if (lo >= hi) continue;
    read_chunks(region, b, (lo - b.first_row) * row_bytes, (hi - b.first_row) * row_bytes,
                out.data() + (lo - first_row) * row_bytes);
    covered += hi - lo;
  }
  if (covered != rows) {
    throw Error(ErrorCategory::corrupt_data, "checkpoint does not cover the requested rows",
                {{"region", region.name}, {"step", std::to_string(manifest_.step)}});
  }
}

void StepReader::read_rank_block(const RegionRecord& region, int rank, std::span<std::byte> out) {
  for (const BlockRecord& b : region.blocks) {
    if (b.rank != rank) continue;
    if (out.size() != b.rows * region.row_bytes()) {
      throw Error(ErrorCategory::invalid_argument, "rank-local region changed size",
                  {{"region", region.name}, {"rank", std::to_string(rank)}});
    }
    read_chunks(region, b, 0, out.size(), out.data());
    return;
  }
  throw Error(ErrorCategory::corrupt_data, "checkpoint has no block of this rank",
              {{"region", region.name}, {"rank", std::to_string(rank)}});
}

}  // namespace strata::io::detail
