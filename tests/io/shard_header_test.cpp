// SPDX-License-Identifier: Apache-2.0
// Whitebox tests of the checkpoint shard header: the documented byte layout round-trips, and a
// header whose magic, version, rank, step, rank count, sizes or reserved bytes differ from what
// the reader expects is refused as corrupt data naming the shard and the field.
#include "checkpoint/shard_header.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "strata/runtime/base/error.hpp"

namespace {

using strata::io::detail::ShardExpectation;
using strata::io::detail::ShardHeader;

ShardHeader sample() {
  ShardHeader h;
  h.rank = 3;
  h.step = 4200000000L;
  h.ranks = 4;
  h.regions = 2;
  h.raw_bytes = 123456789012ULL;
  return h;
}

ShardExpectation expecting_sample() { return {4200000000L, 3, 4, 2u, 123456789012ULL}; }

// The field named by the corrupt_data error that decoding `bytes` against `e` throws ("" if none).
std::string refused_field(std::span<const std::byte> bytes, const ShardExpectation& e) {
  try {
    (void)ShardHeader::decode(bytes, e, "shard-00003.sck");
  } catch (const strata::Error& error) {
    EXPECT_EQ(error.category(), strata::ErrorCategory::corrupt_data) << error.what();
    EXPECT_EQ(error.context_value("shard"), "shard-00003.sck");
    return std::string(error.context_value("field"));
  }
  return {};
}

template <class T>
void patch(std::array<std::byte, 64>& bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

// Proves encode writes the layout docs/formats.md documents and decode reads every field back.
TEST(ShardHeader, RoundTripsAtTheDocumentedOffsets) {
  const auto bytes = sample().encode();
  EXPECT_EQ(std::memcmp(bytes.data(), "STRATCK1", 8), 0);
  struct Field {
    std::size_t offset, size;
    std::uint64_t value;
  };
  for (const Field f : {Field{8, 4, 3}, Field{12, 4, 3}, Field{16, 8, 4200000000ULL},
                        Field{24, 4, 4}, Field{28, 4, 2}, Field{32, 8, 123456789012ULL}}) {
    std::uint64_t held = 0;
    std::memcpy(&held, bytes.data() + f.offset, f.size);
    EXPECT_EQ(held, f.value) << "at offset " << f.offset;
  }
  const ShardHeader back = ShardHeader::decode(bytes, expecting_sample(), "s");
  EXPECT_EQ(back.rank, 3);
  EXPECT_EQ(back.step, 4200000000L);
  EXPECT_EQ(back.ranks, 4);
  EXPECT_EQ(back.regions, 2u);
  EXPECT_EQ(back.raw_bytes, 123456789012ULL);
  // An older step's shard is checked on step and rank only.
  EXPECT_NO_THROW(ShardHeader::decode(bytes, {4200000000L, 3, {}, {}, {}}, "s"));
}

// Proves each expected field that differs is refused with that field named.
TEST(ShardHeader, EachMismatchWithTheExpectationIsRefused) {
  const auto bytes = sample().encode();
  ShardExpectation e = expecting_sample();
  e.step = 41;
  EXPECT_EQ(refused_field(bytes, e), "step");
  e = expecting_sample();
  e.rank = 2;
  EXPECT_EQ(refused_field(bytes, e), "rank");
  e = expecting_sample();
  e.ranks = 8;
  EXPECT_EQ(refused_field(bytes, e), "ranks");
  e = expecting_sample();
  e.regions = 1u;
  EXPECT_EQ(refused_field(bytes, e), "regions");
  e = expecting_sample();
  e.raw_bytes = 1u;
  EXPECT_EQ(refused_field(bytes, e), "raw_bytes");
  e = expecting_sample();
  e.version = 2u;  // a format 2 manifest's own step must not hold a format 3 shard
  EXPECT_EQ(refused_field(bytes, e), "version");
}

// Proves damaged bytes are refused field by field: magic, version, rank count, rank, step,
// reserved bytes, and a short header.
TEST(ShardHeader, DamagedFieldsAreRefused) {
  auto bytes = sample().encode();
  bytes[0] = std::byte{'X'};
  EXPECT_EQ(refused_field(bytes, expecting_sample()), "magic");
  bytes = sample().encode();
  patch<std::uint32_t>(bytes, 8, 1);
  EXPECT_EQ(refused_field(bytes, expecting_sample()), "version");
  bytes = sample().encode();
  patch<std::uint32_t>(bytes, 24, 0);
  EXPECT_EQ(refused_field(bytes, expecting_sample()), "ranks");
  bytes = sample().encode();
  patch<std::uint32_t>(bytes, 12, 4);
  EXPECT_EQ(refused_field(bytes, expecting_sample()), "rank");
  bytes = sample().encode();
  patch<std::uint64_t>(bytes, 16, ~0ULL);
  EXPECT_EQ(refused_field(bytes, expecting_sample()), "step");
  bytes = sample().encode();
  bytes[63] = std::byte{1};
  EXPECT_EQ(refused_field(bytes, expecting_sample()), "reserved");
  bytes = sample().encode();
  EXPECT_EQ(refused_field(std::span(bytes).first(40), expecting_sample()), "size");
}

}  // namespace
