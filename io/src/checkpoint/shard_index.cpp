// SPDX-License-Identifier: Apache-2.0
// The shard's chunk index: explicit little-endian fields at fixed offsets, every one checked on the
// way in against the file's size before any count is used to size or index anything.
#include "checkpoint/shard_index.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>

#include "checksum/sha256.hpp"
#include "checksum/xxh3.hpp"
#include "files/file_io.hpp"
#include "format/byte_fields.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

// A first read of the file's tail takes the trailer and, for up to about 1,300 chunks, the whole
// index: one pread for a typical shard.
constexpr std::size_t kTailReadBytes = 64 * 1024;

[[noreturn]] void refuse(const std::string& shard, const std::string& field,
                         const std::string& what) {
  throw Error(ErrorCategory::corrupt_data, "shard chunk index " + what,
              {{"shard", shard}, {"field", field}});
}

}  // namespace

std::uint64_t region_name_hash(const std::string& name) {
  return XXH3_64bits(name.data(), name.size());
}

std::vector<std::byte> encode_shard_index(const ShardIndex& index) {
  std::vector<std::byte> out(index.blocks.size() * kIndexBlockBytes +
                             index.entries.size() * kIndexEntryBytes + kIndexTrailerBytes);
  std::size_t at = 0;
  for (const IndexBlock& b : index.blocks) {
    put_le(out, at, b.region_hash);
    put_le(out, at + 8, b.first_row);
    put_le(out, at + 16, b.rows);
    put_le(out, at + 24, b.chunks);
    at += kIndexBlockBytes;
  }
  for (const ChunkRef& c : index.entries) {
    put_le(out, at, c.raw_bytes);
    put_le(out, at + 8, c.raw_hash);
    put_le(out, at + 16, static_cast<std::uint64_t>(c.step));
    put_le(out, at + 24, static_cast<std::uint32_t>(c.rank));
    put_le(out, at + 28, static_cast<std::uint8_t>(c.codec == Codec::Kind::zstd ? 1 : 0));
    put_le(out, at + 29, static_cast<std::uint8_t>(c.shuffled ? 1 : 0));
    put_le(out, at + 30, std::uint16_t{0});
    put_le(out, at + 32, c.offset);
    put_le(out, at + 40, c.stored_bytes);
    at += kIndexEntryBytes;
  }
  std::memcpy(out.data() + at, kIndexMagic, sizeof kIndexMagic);
  put_le(out, at + 8, static_cast<std::uint32_t>(index.blocks.size()));
  put_le(out, at + 12, std::uint32_t{0});
  put_le(out, at + 16, static_cast<std::uint64_t>(index.entries.size()));
  put_le(out, at + 24, index.offset);
  return out;
}

std::array<std::byte, 32> append_shard_index(AppendWriter& shard, Manifest& part) {
  ShardIndex index;
  index.offset = shard.size();
  for (RegionRecord& region : part.regions) {
    for (BlockRecord& b : region.blocks) {
      b.chunk_count = b.chunks.size();
      index.blocks.push_back({region_name_hash(region.name), b.first_row, b.rows, b.chunk_count});
      index.entries.insert(index.entries.end(), b.chunks.begin(), b.chunks.end());
    }
  }
  const std::vector<std::byte> bytes = encode_shard_index(index);
  shard.append(bytes);
  return sha256(bytes);
}

IndexExtent decode_index_trailer(std::span<const std::byte> trailer, std::uint64_t file_bytes,
                                 const std::string& shard) {
  if (file_bytes < kShardHeaderBytes + kIndexTrailerBytes) {
    refuse(shard, "trailer", "missing: the shard is shorter than its header and index trailer");
  }
  if (trailer.size() != kIndexTrailerBytes) refuse(shard, "trailer", "truncated");
  const std::span<const std::byte> t = trailer;
  if (std::memcmp(t.data(), kIndexMagic, sizeof kIndexMagic) != 0) {
    refuse(shard, "magic", "missing or damaged (bad magic at the end of the shard)");
  }
  const auto blocks = get_le<std::uint32_t>(t, 8);
  if (get_le<std::uint32_t>(t, 12) != 0) refuse(shard, "reserved", "has non-zero reserved bytes");
  const auto entries = get_le<std::uint64_t>(t, 16);
  const auto offset = get_le<std::uint64_t>(t, 24);
  if (offset < kShardHeaderBytes || offset > file_bytes - kIndexTrailerBytes) {
    refuse(shard, "offset", "starts outside the shard (offset " + std::to_string(offset) + ")");
  }
  // Both counts bounded by the space they claim before they are multiplied: no overflow.
  const std::uint64_t room = file_bytes - kIndexTrailerBytes - offset;
  if (blocks > room / kIndexBlockBytes || entries > room / kIndexEntryBytes ||
      std::uint64_t{blocks} * kIndexBlockBytes + entries * kIndexEntryBytes != room) {
    refuse(shard, "entries",
           "counts (" + std::to_string(blocks) + " blocks, " + std::to_string(entries) +
               " entries) do not fill the shard from offset " + std::to_string(offset) +
               " to its " + std::to_string(file_bytes) + " bytes");
  }
  return {offset, file_bytes - offset};
}

ShardIndex decode_shard_index(std::span<const std::byte> index_bytes, std::uint64_t file_bytes,
                              long step, int rank, const std::string& shard) {
  if (index_bytes.size() < kIndexTrailerBytes) refuse(shard, "trailer", "truncated");
  const IndexExtent extent =
      decode_index_trailer(index_bytes.last(kIndexTrailerBytes), file_bytes, shard);
  if (extent.bytes != index_bytes.size()) refuse(shard, "offset", "does not match the bytes read");
  const std::span<const std::byte> t = index_bytes.last(kIndexTrailerBytes);
  const auto block_count = get_le<std::uint32_t>(t, 8);
  const auto entry_count = get_le<std::uint64_t>(t, 16);
  ShardIndex index;
  index.offset = extent.offset;
  index.blocks.resize(block_count);
  std::size_t at = 0;
  std::uint64_t listed = 0;
  for (std::size_t i = 0; i < index.blocks.size(); ++i, at += kIndexBlockBytes) {
    IndexBlock& b = index.blocks[i];
    b.region_hash = get_le<std::uint64_t>(index_bytes, at);
    b.first_row = get_le<std::uint64_t>(index_bytes, at + 8);
    b.rows = get_le<std::uint64_t>(index_bytes, at + 16);
    b.chunks = get_le<std::uint64_t>(index_bytes, at + 24);
    const auto field = [i] { return "blocks[" + std::to_string(i) + "]"; };  // named on failure
    if (b.rows > UINT64_MAX - b.first_row) refuse(shard, field(), "rows overflow");
    if (b.chunks > entry_count - listed)
      refuse(shard, field(), "claims more entries than the index has");
    listed += b.chunks;
  }
  if (listed != entry_count) refuse(shard, "entries", "not every entry belongs to a block");
  index.entries.resize(entry_count);
  for (std::size_t i = 0; i < index.entries.size(); ++i, at += kIndexEntryBytes) {
    ChunkRef& c = index.entries[i];
    const auto field = [i] { return "entries[" + std::to_string(i) + "]"; };  // named on failure
    c.raw_bytes = get_le<std::uint64_t>(index_bytes, at);
    c.raw_hash = get_le<std::uint64_t>(index_bytes, at + 8);
    const auto entry_step = get_le<std::uint64_t>(index_bytes, at + 16);
    const auto entry_rank = get_le<std::uint32_t>(index_bytes, at + 24);
    const auto codec = get_le<std::uint8_t>(index_bytes, at + 28);
    const auto shuffled = get_le<std::uint8_t>(index_bytes, at + 29);
    c.offset = get_le<std::uint64_t>(index_bytes, at + 32);
    c.stored_bytes = get_le<std::uint64_t>(index_bytes, at + 40);
    if (c.raw_bytes == 0 || c.raw_bytes > kMaxCheckpointChunkBytes) {
      refuse(shard, field(), "has an impossible chunk size");
    }
    if (entry_step > static_cast<std::uint64_t>(step)) refuse(shard, field(), "names a newer step");
    if (entry_rank >= static_cast<std::uint32_t>(kMaxCheckpointRanks)) {
      refuse(shard, field(), "names an impossible rank");
    }
    if (codec > 1 || shuffled > 1 || (shuffled == 1 && codec == 0)) {
      refuse(shard, field(), "has an unknown codec");
    }
    if (get_le<std::uint16_t>(index_bytes, at + 30) != 0) refuse(shard, field(), "has non-zero reserved bytes");
    if (c.offset < kShardHeaderBytes) refuse(shard, field(), "points into a shard header");
    if (c.stored_bytes > UINT64_MAX - c.offset) refuse(shard, field(), "frame overflows");
    c.step = static_cast<long>(entry_step);
    c.rank = static_cast<int>(entry_rank);
    c.codec = codec == 1 ? Codec::Kind::zstd : Codec::Kind::none;
    c.shuffled = shuffled == 1;
    if (c.step == step) {
      // This step's frames are this rank's, written before the index.
      if (c.rank != rank)
        refuse(shard, field(), "puts a frame of this step in another rank's shard");
      if (c.offset + c.stored_bytes > index.offset) {
        refuse(shard, field(), "frame lies outside the shard's frames");
      }
    }
  }
  return index;
}

ShardIndex read_shard_index(int fd, std::uint64_t file_bytes, long step, int rank,
                            const std::string& shard, std::array<std::byte, 32>* digest) {
  if (file_bytes < kShardHeaderBytes + kIndexTrailerBytes) {
    refuse(shard, "trailer", "missing: the shard is shorter than its header and index trailer");
  }
  const std::uint64_t tail =
      std::min<std::uint64_t>(kTailReadBytes, file_bytes - kShardHeaderBytes);
  std::vector<std::byte> bytes(static_cast<std::size_t>(tail));
  read_all(fd, shard, file_bytes - tail, bytes);
  const IndexExtent extent = decode_index_trailer(
      std::span<const std::byte>(bytes).last(kIndexTrailerBytes), file_bytes, shard);
  if (extent.bytes > tail) {
    // An index larger than the first read (checked against the file's size above): the rest.
    std::vector<std::byte> whole(static_cast<std::size_t>(extent.bytes));
    const std::uint64_t head = extent.bytes - tail;
    read_all(fd, shard, extent.offset, std::span(whole).first(static_cast<std::size_t>(head)));
    std::memcpy(whole.data() + head, bytes.data(), bytes.size());
    bytes = std::move(whole);
  } else {
    bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(tail - extent.bytes));
  }
  ShardIndex index = decode_shard_index(bytes, file_bytes, step, rank, shard);
  if (digest != nullptr) *digest = sha256(bytes);
  return index;
}

}  // namespace strata::io::detail
