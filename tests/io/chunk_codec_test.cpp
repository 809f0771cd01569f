// SPDX-License-Identifier: Apache-2.0
// Whitebox tests of the checkpoint chunk codec: raw and zstd frames (shuffled or not) decode to
// the exact bytes, checked against an XXH3 taken by xxHash directly, and a damaged frame or a
// wrong checksum is refused as corrupt data naming the chunk.
#include "checkpoint/chunk_codec.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::io::Codec;
using strata::io::detail::FrameBuffer;

// 4 KiB of doubles that compress (a slow ramp) but are not all alike.
std::vector<std::byte> sample() {
  std::vector<double> values(512);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = 1000.0 + 0.25 * static_cast<double>(i);
  std::vector<std::byte> bytes(values.size() * sizeof(double));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::uint64_t xxh3(std::span<const std::byte> bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

Codec zstd_codec(bool shuffle) {
  Codec c;
  c.kind = Codec::Kind::zstd;
  c.level = 3;
  c.shuffle = shuffle;
  return c;
}

// Proves a raw frame decodes to the same bytes and a wrong XXH3 is refused.
TEST(ChunkCodec, RawFrameRoundTripsAndChecksItsHash) {
  const auto raw = sample();
  std::vector<std::byte> back(raw.size());
  strata::io::detail::decode_chunk(raw, Codec::Kind::none, false, 8, back, xxh3(raw), "c");
  EXPECT_EQ(back, raw);
  try {
    strata::io::detail::decode_chunk(raw, Codec::Kind::none, false, 8, back, xxh3(raw) ^ 1, "c0");
    FAIL() << "a wrong checksum was accepted";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
    EXPECT_EQ(e.context_value("chunk"), "c0");
  }
}

// Proves zstd frames, plain and byte-shuffled, decode to the exact bytes and are smaller.
TEST(ChunkCodec, ZstdFramesRoundTripShuffledOrNot) {
  const auto raw = sample();
  for (bool shuffle : {false, true}) {
    FrameBuffer frame;
    const bool shuffled = strata::io::detail::encode_chunk(raw, zstd_codec(shuffle), 8, frame);
    EXPECT_EQ(shuffled, shuffle);
    EXPECT_LT(frame.size, raw.size());
    std::vector<std::byte> back(raw.size());
    strata::io::detail::decode_chunk(frame.bytes(), Codec::Kind::zstd, shuffled, 8, back, xxh3(raw),
                                     "c");
    EXPECT_EQ(back, raw) << "shuffle " << shuffle;
  }
  FrameBuffer bytes_frame;  // one-byte elements are never shuffled
  EXPECT_FALSE(strata::io::detail::encode_chunk(raw, zstd_codec(true), 1, bytes_frame));
}

// Proves a zstd frame with a damaged byte, a truncated frame, and a shuffle flag on a dtype
// without shuffle are each refused as corrupt data.
TEST(ChunkCodec, DamagedFramesAreRefused) {
  const auto raw = sample();
  FrameBuffer frame;
  ASSERT_TRUE(strata::io::detail::encode_chunk(raw, zstd_codec(true), 8, frame));
  std::vector<std::byte> stored(frame.bytes().begin(), frame.bytes().end());
  std::vector<std::byte> back(raw.size());
  auto refused = [&](std::span<const std::byte> s, bool shuffled, std::size_t element) {
    try {
      strata::io::detail::decode_chunk(s, Codec::Kind::zstd, shuffled, element, back, xxh3(raw),
                                       "c7");
    } catch (const strata::Error& e) {
      return e.category() == strata::ErrorCategory::corrupt_data &&
             e.context_value("chunk") == "c7";
    }
    return false;
  };
  auto damaged = stored;
  damaged[damaged.size() / 2] ^= std::byte{0x5a};
  EXPECT_TRUE(refused(damaged, true, 8));
  EXPECT_TRUE(refused(std::span(stored).first(stored.size() - 3), true, 8));
  EXPECT_TRUE(refused(stored, true, 3));
  EXPECT_FALSE(refused(stored, true, 8)) << "the undamaged frame decodes";
}

}  // namespace
