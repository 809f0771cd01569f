// SPDX-License-Identifier: Apache-2.0
// One checkpoint chunk to and from its stored frame: a zstd frame at the chosen level, or the raw
// bytes. Decoding checks the frame's size claims and the raw XXH3 before anything is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "strata/io/checkpoint/checkpoint.hpp"

namespace strata::io::detail {

// A reusable frame buffer that is never zero-filled: a frame overwrites it at once, and filling
// megabytes per chunk with zeros first showed up in profiles.
struct FrameBuffer {
  std::unique_ptr<std::byte[]> data;
  std::size_t capacity = 0;
  std::size_t size = 0;
  std::span<const std::byte> bytes() const noexcept { return {data.get(), size}; }
};

// Compresses `raw` with zstd at codec.level into `out`, byte-shuffled by `element_bytes` first
// when codec.shuffle asks and elements are wider than a byte. Returns whether it shuffled.
// Throws Error(system) when zstd fails.
bool encode_chunk(std::span<const std::byte> raw, Codec codec, std::size_t element_bytes,
                  FrameBuffer& out);

// Decodes `stored` into `raw` (exactly raw.size() bytes expected), undoing the shuffle when
// `shuffled`, and checks XXH3 == raw_hash. Throws Error(corrupt_data) with `where` as context
// when the frame is damaged or the checksum differs.
void decode_chunk(std::span<const std::byte> stored, Codec::Kind codec, bool shuffled,
                  std::size_t element_bytes, std::span<std::byte> raw, std::uint64_t raw_hash,
                  const std::string& where);

}  // namespace strata::io::detail
