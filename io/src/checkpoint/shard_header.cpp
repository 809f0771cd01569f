// SPDX-License-Identifier: Apache-2.0
// ShardHeader encode/decode: explicit little-endian fields, every one checked on the way in.
#include "checkpoint/shard_header.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>

#include "format/byte_fields.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {
namespace {

constexpr std::size_t kVersionAt = 8;
constexpr std::size_t kRankAt = 12;
constexpr std::size_t kStepAt = 16;
constexpr std::size_t kRanksAt = 24;
constexpr std::size_t kRegionsAt = 28;
constexpr std::size_t kRawBytesAt = 32;
constexpr std::size_t kReservedAt = 40;

[[noreturn]] void refuse(const std::string& shard, const char* field, const std::string& what) {
  throw Error(ErrorCategory::corrupt_data, "shard header " + what,
              {{"shard", shard}, {"field", field}});
}

// "holds 3, expected 4" for a field that does not match what the manifest or file name says.
template <class T>
void expect_equal(const std::string& shard, const char* field, T found, T wanted) {
  if (found != wanted) {
    refuse(
        shard, field,
        "does not match: holds " + std::to_string(found) + ", expected " + std::to_string(wanted));
  }
}

}  // namespace

std::array<std::byte, kShardHeaderBytes> ShardHeader::encode() const {
  std::array<std::byte, kShardHeaderBytes> out{};
  std::memcpy(out.data(), kShardMagic, sizeof kShardMagic);
  put_le(out, kVersionAt, version);
  put_le(out, kRankAt, static_cast<std::uint32_t>(rank));
  put_le(out, kStepAt, static_cast<std::uint64_t>(step));
  put_le(out, kRanksAt, static_cast<std::uint32_t>(ranks));
  put_le(out, kRegionsAt, regions);
  put_le(out, kRawBytesAt, raw_bytes);
  return out;
}

ShardHeader ShardHeader::decode(std::span<const std::byte> bytes, const ShardExpectation& expected,
                                const std::string& shard) {
  if (bytes.size() != kShardHeaderBytes) refuse(shard, "size", "truncated");
  if (std::memcmp(bytes.data(), kShardMagic, sizeof kShardMagic) != 0) {
    refuse(shard, "magic", "damaged (bad magic)");
  }
  ShardHeader h;
  h.version = get_le<std::uint32_t>(bytes, kVersionAt);
  if (h.version < kOldestShardFormatVersion || h.version > kShardFormatVersion) {
    refuse(shard, "version", "has unsupported version " + std::to_string(h.version));
  }
  const auto rank = get_le<std::uint32_t>(bytes, kRankAt);
  const auto step = get_le<std::uint64_t>(bytes, kStepAt);
  const auto ranks = get_le<std::uint32_t>(bytes, kRanksAt);
  if (ranks == 0 || ranks > INT_MAX) refuse(shard, "ranks", "holds an impossible rank count");
  if (rank >= ranks) refuse(shard, "rank", "names a rank outside its rank count");
  if (step > static_cast<std::uint64_t>(LONG_MAX))
    refuse(shard, "step", "holds an impossible step");
  h.rank = static_cast<int>(rank);
  h.step = static_cast<long>(step);
  h.ranks = static_cast<int>(ranks);
  h.regions = get_le<std::uint32_t>(bytes, kRegionsAt);
  h.raw_bytes = get_le<std::uint64_t>(bytes, kRawBytesAt);
  if (!std::all_of(bytes.begin() + kReservedAt, bytes.end(),
                   [](std::byte b) { return b == std::byte{0}; })) {
    refuse(shard, "reserved", "has non-zero reserved bytes");
  }
  expect_equal(shard, "step", h.step, expected.step);
  expect_equal(shard, "rank", h.rank, expected.rank);
  if (expected.ranks) expect_equal(shard, "ranks", h.ranks, *expected.ranks);
  if (expected.regions) expect_equal(shard, "regions", h.regions, *expected.regions);
  if (expected.raw_bytes) expect_equal(shard, "raw_bytes", h.raw_bytes, *expected.raw_bytes);
  if (expected.version) expect_equal(shard, "version", h.version, *expected.version);
  return h;
}

}  // namespace strata::io::detail
