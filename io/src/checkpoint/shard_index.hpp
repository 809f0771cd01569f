// SPDX-License-Identifier: Apache-2.0
// The chunk index that ends a checkpoint shard (format 3): the rank's blocks and, for each, its
// chunk entries (where every chunk's frame is: this shard, or an older step's shard for a reused
// chunk), fixed-width little-endian after the frames, with a trailer at the file's end so a
// reader finds it from the size alone. The manifest keeps one small record per rank; each rank
// reads only the indexes of the shards whose rows it restores (docs/formats.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"

namespace strata::io::detail {

inline constexpr std::size_t kIndexBlockBytes = 32;
inline constexpr std::size_t kIndexEntryBytes = 48;
inline constexpr std::size_t kIndexTrailerBytes = 32;
inline constexpr char kIndexMagic[8] = {'S', 'T', 'R', 'A', 'T', 'I', 'X', '1'};

// One block of the shard's rank: which region (XXH3-64 of its name), its rows, and how many of
// the index's entries (in order, block after block) are its chunks.
struct IndexBlock {
  std::uint64_t region_hash = 0;
  std::uint64_t first_row = 0;
  std::uint64_t rows = 0;
  std::uint64_t chunks = 0;
};

struct ShardIndex {
  std::vector<IndexBlock> blocks;
  std::vector<ChunkRef> entries;  // every block's chunks, block after block
  std::uint64_t offset = 0;       // where the index starts: the end of the frames
};

// What names a region in an index: XXH3-64 (seed 0) of its name.
std::uint64_t region_name_hash(const std::string& name);

// The index's bytes (blocks, entries, trailer) for a shard whose frames end at index.offset.
std::vector<std::byte> encode_shard_index(const ShardIndex& index);

// Where the index of a shard of `file_bytes` starts and how long it is, from the trailer (its
// last kIndexTrailerBytes bytes): refused unless the counts and the offset fit the file exactly.
struct IndexExtent {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;  // blocks, entries and trailer: the file's last `bytes` bytes
};
IndexExtent decode_index_trailer(std::span<const std::byte> trailer, std::uint64_t file_bytes,
                                 const std::string& shard);

// Decodes the index, `index_bytes` being the file's last bytes from the index's offset to its
// end, of the shard of (step, rank) of `file_bytes`. Every field is checked: counts against the
// size, each block's entries adding up, codecs, frames of this shard inside [header, offset) and
// only this rank's, references only to older steps. Throws Error(corrupt_data) naming the shard
// and the field; never reads outside `index_bytes`.
ShardIndex decode_shard_index(std::span<const std::byte> index_bytes, std::uint64_t file_bytes,
                              long step, int rank, const std::string& shard);

// Reads and decodes the index of an open shard file of `file_bytes` (one pread of the file's
// tail, a second only for an index larger than that read); `digest`, when given, receives the
// SHA-256 of the index's bytes (what the shard digest covers).
ShardIndex read_shard_index(int fd, std::uint64_t file_bytes, long step, int rank,
                            const std::string& shard, std::array<std::byte, 32>* digest = nullptr);

class AppendWriter;

// Appends the chunk index of a rank's save to its shard, after the frames: one block per region
// of `part` (the rank's own blocks, their chunks in order, reused ones pointing into older
// shards), and sets each block's chunk_count. Returns the SHA-256 of the bytes appended, which
// the shard digest covers.
std::array<std::byte, 32> append_shard_index(AppendWriter& shard, Manifest& part);

}  // namespace strata::io::detail
