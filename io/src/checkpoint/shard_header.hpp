// SPDX-License-Identifier: Apache-2.0
// The 64-byte header that opens every checkpoint shard: which step and rank wrote it and how much
// state it holds, so a shard copied from another step or rank, or one that does not belong to the
// manifest naming it, is refused before any of its frames is used (docs/formats.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace strata::io::detail {

inline constexpr std::size_t kShardHeaderBytes = 64;
inline constexpr char kShardMagic[8] = {'S', 'T', 'R', 'A', 'T', 'C', 'K', '1'};
// 3: a chunk index follows the frames (shard_index.hpp). 2: region count and raw bytes recorded,
// no index (still read). Version 1 (those bytes left zero) is refused.
inline constexpr std::uint32_t kShardFormatVersion = 3;
inline constexpr std::uint32_t kOldestShardFormatVersion = 2;

// What the reader knows of a shard before opening it. The step and rank come from the file name
// it opened; ranks, regions and raw bytes from the manifest when the shard is of the manifest's
// own step (a reused chunk's older step is checked on step and rank only).
struct ShardExpectation {
  long step = 0;
  int rank = 0;
  std::optional<int> ranks;
  std::optional<std::uint32_t> regions;
  std::optional<std::uint64_t> raw_bytes;
  // The format the manifest's own step was written in (3 for a format 3 manifest); an older
  // step's shard may be of either readable version.
  std::optional<std::uint32_t> version;
};

// Little-endian at fixed offsets: magic[8] | version u32 | rank u32 | step u64 | ranks u32 |
// regions u32 | raw_bytes u64 | 24 reserved bytes, zero.
struct ShardHeader {
  std::uint32_t version = kShardFormatVersion;
  int rank = 0;
  long step = 0;
  int ranks = 1;
  std::uint32_t regions = 0;    // regions with a block in this shard
  std::uint64_t raw_bytes = 0;  // bytes of state those blocks restore

  std::array<std::byte, kShardHeaderBytes> encode() const;

  // Parses and checks every field: magic, version, rank < ranks, reserved bytes zero, and each
  // field `expected` names. Throws Error(corrupt_data) naming the shard and the field.
  static ShardHeader decode(std::span<const std::byte> bytes, const ShardExpectation& expected,
                            const std::string& shard);
};

}  // namespace strata::io::detail
