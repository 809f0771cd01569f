// SPDX-License-Identifier: Apache-2.0
// The byte layout of the `.strata` format (docs/formats.md), in one place for the reader and the
// writer: encoding and validating the header, array table entries and metadata, and computing a
// file's layout from its arrays.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "strata/io/format/strata_file.hpp"
#include "strata/io/format/strata_writer.hpp"

namespace strata::io::detail {

inline constexpr std::array<std::uint8_t, 8> kMagic{0x89, 'S', 'T', 'R', 'A', 'T', 'A', '\n'};
inline constexpr std::size_t kHeaderBytes = 512;
inline constexpr std::size_t kEntryBytes = 256;
inline constexpr std::uint8_t kLittleEndian = 1;

struct Header {
  FileHeader info;
  std::uint32_t array_count = 0;
  std::uint32_t flags = 0;
  std::uint64_t table_offset = 0;
  std::uint64_t table_bytes = 0;
  std::uint64_t table_checksum = 0;
  std::uint64_t metadata_offset = 0;
  std::uint64_t metadata_bytes = 0;
  std::uint64_t metadata_checksum = 0;
};

// XXH3-64 with seed 0, the checksum of the format.
std::uint64_t checksum(std::span<const std::byte> bytes) noexcept;

// Error(corrupt_data) naming the file and the field.
[[noreturn]] void corrupt(const std::string& file, const std::string& field, const std::string& what);

void encode_header(const Header& h, std::span<std::byte> out);  // out: 512 bytes
Header decode_header(std::span<const std::byte> in, const std::string& file);
void encode_entry(const ArrayInfo& a, std::span<std::byte> out);  // out: 256 bytes
ArrayInfo decode_entry(std::span<const std::byte> in, const std::string& file, std::size_t index);
std::vector<std::byte> encode_metadata(const Metadata& m);
Metadata decode_metadata(std::span<const std::byte> in, const std::string& file);

// Throws Error(invalid_argument) when `name` cannot be an array name.
void check_array_name(const std::string& name);
// Whether chunk_bytes is a multiple of kChunkUnit in 1..kMaxChunkBytes.
bool valid_chunk_bytes(std::uint64_t chunk_bytes) noexcept;
// Throws Error(invalid_argument) when metadata exceeds the format's bounds.
void check_metadata(const Metadata& m);

struct Layout {
  std::vector<ArrayInfo> arrays;
  std::uint64_t metadata_offset = 0;
  std::uint64_t metadata_bytes = 0;
  std::uint64_t file_bytes = 0;
};
Layout compute_layout(const std::vector<ArraySpec>& specs, std::uint64_t metadata_bytes);

// Reads `out.size()` bytes at `offset` of the file being parsed; throws if they are not there.
using ReadAt = std::function<void(std::uint64_t offset, std::span<std::byte> out)>;

struct Parsed {
  Header header;
  std::vector<ArrayInfo> arrays;
  Metadata metadata;
  // Per array, the chunk checksums from its table.
  std::vector<std::vector<std::uint64_t>> checksums;
};
// Validates everything but chunk contents, in the order docs/formats.md gives.
Parsed parse(const ReadAt& read, std::uint64_t actual_file_bytes, const std::string& file);

}  // namespace strata::io::detail
