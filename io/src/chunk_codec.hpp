// One checkpoint chunk to and from its stored frame: a zstd frame at the chosen level, or the raw
// bytes. Decoding checks the frame's size claims and the raw XXH3 before anything is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "strata/io/checkpoint.hpp"

namespace strata::io::detail {

// Compresses `raw` into `out` (resized to the frame). Throws Error(system) when zstd fails.
void encode_chunk(std::span<const std::byte> raw, Codec codec, std::vector<std::byte>& out);

// Decodes `stored` into `raw` (exactly raw.size() bytes expected) and checks XXH3 == raw_hash.
// Throws Error(corrupt_data) with `where` as context when the frame is damaged or the checksum
// differs.
void decode_chunk(std::span<const std::byte> stored, Codec::Kind codec, std::span<std::byte> raw,
                  std::uint64_t raw_hash, const std::string& where);

}  // namespace strata::io::detail
