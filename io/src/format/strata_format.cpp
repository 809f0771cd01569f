// SPDX-License-Identifier: Apache-2.0
// Encoding and validation of the .strata header, array table and metadata (docs/formats.md).
// Every multi-byte field is little-endian; this code runs on little-endian machines only.
#include "format/strata_format.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

#include "checksum/xxh3.hpp"
#include "format/byte_fields.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/round_up.hpp"
#include "strata/runtime/base/text.hpp"

namespace strata::io::detail {
namespace {

bool all_zero(std::span<const std::byte> in, std::size_t first, std::size_t last) {
  return std::all_of(in.begin() + first, in.begin() + last, [](std::byte b) { return b == std::byte{0}; });
}


std::string hex(std::uint64_t v) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// A zero-padded text field: the bytes up to the first NUL; the rest must be NUL too.
std::string text_field(std::span<const std::byte> in, std::size_t offset, std::size_t bytes,
                       const std::string& file, const std::string& field) {
  const char* begin = reinterpret_cast<const char*>(in.data() + offset);
  std::size_t length = strnlen(begin, bytes);
  if (!all_zero(in, offset + length, offset + bytes)) corrupt(file, field, "text field is not zero-padded");
  return std::string(begin, length);
}

}  // namespace

std::uint64_t checksum(std::span<const std::byte> bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

void corrupt(const std::string& file, const std::string& field, const std::string& what) {
  throw Error(ErrorCategory::corrupt_data, what, {{"file", file}, {"field", field}});
}

void encode_header(const Header& h, std::span<std::byte> out) {
  std::fill(out.begin(), out.begin() + kHeaderBytes, std::byte{0});
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  put_le<std::uint16_t>(out, 8, h.info.version_major);
  put_le<std::uint16_t>(out, 10, h.info.version_minor);
  put_le<std::uint8_t>(out, 12, kLittleEndian);
  std::memcpy(out.data() + 16, h.info.uuid.data(), 16);
  put_le<std::int64_t>(out, 32, h.info.created_unix_ns);
  std::memcpy(out.data() + 40, h.info.creator.data(), std::min<std::size_t>(h.info.creator.size(), 63));
  put_le<std::uint64_t>(out, 104, h.info.file_bytes);
  put_le<std::uint32_t>(out, 112, h.array_count);
  put_le<std::uint32_t>(out, 116, h.flags);
  put_le<std::uint64_t>(out, 120, h.table_offset);
  put_le<std::uint64_t>(out, 128, h.table_bytes);
  put_le<std::uint64_t>(out, 136, h.table_checksum);
  put_le<std::uint64_t>(out, 144, h.metadata_offset);
  put_le<std::uint64_t>(out, 152, h.metadata_bytes);
  put_le<std::uint64_t>(out, 160, h.metadata_checksum);
  put_le<std::uint64_t>(out, 504, checksum(out.first(504)));
}

Header decode_header(std::span<const std::byte> in, const std::string& file) {
  if (std::memcmp(in.data(), kMagic.data(), kMagic.size()) != 0) {
    static constexpr char kHdf5Signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    if (std::memcmp(in.data(), kHdf5Signature, sizeof kHdf5Signature) == 0) {
      throw Error(ErrorCategory::invalid_argument,
                  "an HDF5 file, not a .strata file: name one of its datasets as "
                  "FILE.h5:/group/dataset (strata stats, hist) or convert it with strata import",
                  {{"file", file}});
    }
    corrupt(file, "magic", "not a .strata file (bad magic)");
  }
  std::uint64_t stored = get_le<std::uint64_t>(in, 504);
  std::uint64_t actual = checksum(in.first(504));
  if (stored != actual) {
    corrupt(file, "header_checksum",
            "header checksum mismatch: stored " + hex(stored) + ", computed " + hex(actual));
  }
  Header h;
  h.info.version_major = get_le<std::uint16_t>(in, 8);
  h.info.version_minor = get_le<std::uint16_t>(in, 10);
  if (h.info.version_major > kFormatMajor) {
    corrupt(file, "version_major",
            "written by a newer strata: format " + std::to_string(h.info.version_major) + "." +
                std::to_string(h.info.version_minor) + ", this reader understands " +
                std::to_string(kFormatMajor) + ".x");
  }
  if (h.info.version_major < 1) corrupt(file, "version_major", "format version 0 does not exist");
  auto endianness = get_le<std::uint8_t>(in, 12);
  if (endianness != kLittleEndian) {
    corrupt(file, "endianness",
            endianness == 2 ? "big-endian files are not supported" : "unknown endianness marker");
  }
  if (!all_zero(in, 13, 16)) corrupt(file, "reserved[13..16)", "reserved bytes are not zero");
  std::memcpy(h.info.uuid.data(), in.data() + 16, 16);
  h.info.created_unix_ns = get_le<std::int64_t>(in, 32);
  h.info.creator = text_field(in, 40, 64, file, "creator");
  if (!is_utf8(h.info.creator)) corrupt(file, "creator", "creator is not UTF-8");
  h.info.file_bytes = get_le<std::uint64_t>(in, 104);
  h.array_count = get_le<std::uint32_t>(in, 112);
  h.flags = get_le<std::uint32_t>(in, 116);
  h.table_offset = get_le<std::uint64_t>(in, 120);
  h.table_bytes = get_le<std::uint64_t>(in, 128);
  h.table_checksum = get_le<std::uint64_t>(in, 136);
  h.metadata_offset = get_le<std::uint64_t>(in, 144);
  h.metadata_bytes = get_le<std::uint64_t>(in, 152);
  h.metadata_checksum = get_le<std::uint64_t>(in, 160);
  if (!all_zero(in, 168, 504)) corrupt(file, "reserved[168..504)", "reserved bytes are not zero");
  if (h.flags != 0) corrupt(file, "flags", "unknown flags " + hex(h.flags));
  if (h.array_count == 0 || h.array_count > kMaxArrays) {
    corrupt(file, "array_count", "array count " + std::to_string(h.array_count) + " is not in 1.." +
                                     std::to_string(kMaxArrays));
  }
  if (h.table_offset != kHeaderBytes) corrupt(file, "table_offset", "table must follow the header");
  if (h.table_bytes != std::uint64_t{h.array_count} * kEntryBytes) {
    corrupt(file, "table_bytes", "table size does not match array_count");
  }
  if (h.metadata_bytes > kMaxMetadataBytes) corrupt(file, "metadata_bytes", "metadata over 1 MiB");
  return h;
}

void encode_entry(const ArrayInfo& a, std::span<std::byte> out) {
  std::fill(out.begin(), out.begin() + kEntryBytes, std::byte{0});
  std::memcpy(out.data(), a.name.data(), std::min(a.name.size(), kMaxNameBytes));
  put_le<std::uint8_t>(out, 64, static_cast<std::uint8_t>(a.dtype));
  put_le<std::uint8_t>(out, 65, static_cast<std::uint8_t>(a.shape.rank()));
  for (std::size_t d = 0; d < a.shape.rank(); ++d) put_le<std::uint64_t>(out, 72 + 8 * d, a.shape[d]);
  put_le<std::uint64_t>(out, 136, a.data_offset);
  put_le<std::uint64_t>(out, 144, a.data_bytes);
  put_le<std::uint64_t>(out, 152, a.chunk_bytes);
  put_le<std::uint64_t>(out, 160, a.chunk_count);
  put_le<std::uint64_t>(out, 168, a.checksum_offset);
}

ArrayInfo decode_entry(std::span<const std::byte> in, const std::string& file, std::size_t index) {
  const std::string at = "arrays[" + std::to_string(index) + "].";
  ArrayInfo a;
  a.name = text_field(in, 0, 64, file, at + "name");
  try {
    check_array_name(a.name);
  } catch (const Error& e) {
    corrupt(file, at + "name", e.message());
  }
  auto dtype = get_le<std::uint8_t>(in, 64);
  if (dtype > static_cast<std::uint8_t>(DType::u64)) {
    corrupt(file, at + "dtype", "unknown dtype code " + std::to_string(dtype));
  }
  a.dtype = static_cast<DType>(dtype);
  auto rank = get_le<std::uint8_t>(in, 65);
  if (rank < 1 || rank > Shape::kMaxRank) corrupt(file, at + "rank", "rank " + std::to_string(rank) + " is not in 1..8");
  if (!all_zero(in, 66, 72)) corrupt(file, at + "reserved", "reserved bytes are not zero");
  try {
    for (std::size_t d = 0; d < rank; ++d) a.shape.push_back(get_le<std::uint64_t>(in, 72 + 8 * d));
    (void)a.shape.byte_count(a.dtype);
  } catch (const Error&) {
    corrupt(file, at + "shape", "shape " + a.shape.to_string() + "... overflows 64 bits");
  }
  for (std::size_t d = rank; d < Shape::kMaxRank; ++d) {
    if (get_le<std::uint64_t>(in, 72 + 8 * d) != 0) corrupt(file, at + "shape", "extent past rank is not zero");
  }
  a.data_offset = get_le<std::uint64_t>(in, 136);
  a.data_bytes = get_le<std::uint64_t>(in, 144);
  a.chunk_bytes = get_le<std::uint64_t>(in, 152);
  a.chunk_count = get_le<std::uint64_t>(in, 160);
  a.checksum_offset = get_le<std::uint64_t>(in, 168);
  if (!all_zero(in, 176, 256)) corrupt(file, at + "reserved", "reserved bytes are not zero");
  if (a.data_bytes != a.shape.byte_count(a.dtype)) {
    corrupt(file, at + "data_bytes", "data_bytes " + std::to_string(a.data_bytes) +
                                         " does not match shape " + a.shape.to_string() + " of " +
                                         std::string(to_string(a.dtype)));
  }
  if (a.data_offset % kDataAlignment != 0) corrupt(file, at + "data_offset", "data is not 2 MiB aligned");
  if (!valid_chunk_bytes(a.chunk_bytes)) {
    corrupt(file, at + "chunk_bytes",
            "chunk size " + std::to_string(a.chunk_bytes) +
                " is not a multiple of 4096 in 4096..1 GiB");
  }
  if (a.chunk_count != divide_round_up(a.data_bytes, a.chunk_bytes)) {
    corrupt(file, at + "chunk_count", "chunk count does not match data_bytes / chunk_bytes");
  }
  return a;
}

std::vector<std::byte> encode_metadata(const Metadata& m) {
  std::vector<std::byte> out(4);
  put_le<std::uint32_t>(out, 0, static_cast<std::uint32_t>(m.size()));
  for (const auto& [key, value] : m) {
    std::size_t at = out.size();
    out.resize(at + 6 + key.size() + value.size());
    put_le<std::uint16_t>(out, at, static_cast<std::uint16_t>(key.size()));
    put_le<std::uint32_t>(out, at + 2, static_cast<std::uint32_t>(value.size()));
    std::memcpy(out.data() + at + 6, key.data(), key.size());
    std::memcpy(out.data() + at + 6 + key.size(), value.data(), value.size());
  }
  return out;
}

Metadata decode_metadata(std::span<const std::byte> in, const std::string& file) {
  Metadata m;
  if (in.empty()) return m;
  if (in.size() < 4) corrupt(file, "metadata", "metadata block shorter than its count");
  auto count = get_le<std::uint32_t>(in, 0);
  if (count > kMaxMetadataEntries) corrupt(file, "metadata.entry_count", "more than 1024 entries");
  std::size_t at = 4;
  std::set<std::string> keys;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::string field = "metadata[" + std::to_string(i) + "]";
    if (in.size() - at < 6) corrupt(file, field, "entry runs past the metadata block");
    auto key_bytes = get_le<std::uint16_t>(in, at);
    auto value_bytes = get_le<std::uint32_t>(in, at + 2);
    if (key_bytes == 0 || key_bytes > 255) corrupt(file, field + ".key_bytes", "key length not in 1..255");
    if (value_bytes > 65536) corrupt(file, field + ".value_bytes", "value over 64 KiB");
    if (in.size() - at - 6 < std::size_t{key_bytes} + value_bytes) {
      corrupt(file, field, "entry runs past the metadata block");
    }
    std::string key(reinterpret_cast<const char*>(in.data() + at + 6), key_bytes);
    std::string value(reinterpret_cast<const char*>(in.data() + at + 6 + key_bytes), value_bytes);
    if (!is_utf8(key)) corrupt(file, field + ".key", "key is not UTF-8");
    if (!keys.insert(key).second) corrupt(file, field + ".key", "duplicate key '" + key + "'");
    m.emplace_back(std::move(key), std::move(value));
    at += 6 + key_bytes + value_bytes;
  }
  if (at != in.size()) corrupt(file, "metadata_bytes", "metadata entries do not fill the block");
  return m;
}

void check_array_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    throw Error(ErrorCategory::invalid_argument, "array name must be 1 to 63 bytes", {{"name", name}});
  }
  for (char c : name) {
    if (c == '/' || c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw Error(ErrorCategory::invalid_argument,
                  "array name may not contain '/', ':' or control characters", {{"name", name}});
    }
  }
  if (!is_utf8(name)) {
    throw Error(ErrorCategory::invalid_argument, "array name must be UTF-8", {{"name", name}});
  }
}

bool valid_chunk_bytes(std::uint64_t chunk_bytes) noexcept {
  return chunk_bytes != 0 && chunk_bytes % kChunkUnit == 0 && chunk_bytes <= kMaxChunkBytes;
}

void check_metadata(const Metadata& m) {
  if (m.size() > kMaxMetadataEntries) {
    throw Error(ErrorCategory::invalid_argument, "more than 1024 metadata entries");
  }
  std::set<std::string> keys;
  for (const auto& [key, value] : m) {
    if (key.empty() || key.size() > 255 || value.size() > 65536) {
      throw Error(ErrorCategory::invalid_argument,
                  "metadata keys must be 1 to 255 bytes and values at most 64 KiB", {{"key", key}});
    }
    if (!is_utf8(key)) {
      throw Error(ErrorCategory::invalid_argument, "metadata keys must be UTF-8", {{"key", key}});
    }
    if (!keys.insert(key).second) {
      throw Error(ErrorCategory::invalid_argument, "duplicate metadata key", {{"key", key}});
    }
  }
  if (encode_metadata(m).size() > kMaxMetadataBytes) {
    throw Error(ErrorCategory::invalid_argument, "metadata over 1 MiB");
  }
}

Layout compute_layout(const std::vector<ArraySpec>& specs, std::uint64_t metadata_bytes) {
  if (specs.empty() || specs.size() > kMaxArrays) {
    throw Error(ErrorCategory::invalid_argument, "a .strata file holds 1 to 4096 arrays",
                {{"arrays", std::to_string(specs.size())}});
  }
  Layout layout;
  std::set<std::string> names;
  std::uint64_t at = kHeaderBytes + specs.size() * kEntryBytes;
  layout.metadata_offset = at;
  layout.metadata_bytes = metadata_bytes;
  at = round_up(at + metadata_bytes, std::uint64_t{8});
  for (const ArraySpec& s : specs) {
    check_array_name(s.name);
    if (!names.insert(s.name).second) {
      throw Error(ErrorCategory::invalid_argument, "duplicate array name", {{"name", s.name}});
    }
    if (s.shape.rank() < 1) {
      throw Error(ErrorCategory::invalid_argument, "an array needs 1 to 8 dimensions", {{"name", s.name}});
    }
    if (!valid_chunk_bytes(s.chunk_bytes)) {
      throw Error(ErrorCategory::invalid_argument,
                  "chunk size must be a multiple of 4096 from 4096 to 1 GiB",
                  {{"name", s.name}, {"chunk_bytes", std::to_string(s.chunk_bytes)}});
    }
    ArrayInfo a;
    a.name = s.name;
    a.dtype = s.dtype;
    a.shape = s.shape;
    a.data_bytes = s.shape.byte_count(s.dtype);
    a.chunk_bytes = s.chunk_bytes;
    a.chunk_count = divide_round_up(a.data_bytes, a.chunk_bytes);
    a.checksum_offset = at;
    // At most 2^52 chunks of 8 bytes per array, but 4096 arrays of them can still wrap.
    if (a.chunk_count * 8 > UINT64_MAX - at - kDataAlignment) {
      throw Error(ErrorCategory::invalid_argument, "file size overflows", {{"name", a.name}});
    }
    at += a.chunk_count * 8;
    layout.arrays.push_back(std::move(a));
  }
  at = round_up(at, kDataAlignment);
  for (ArrayInfo& a : layout.arrays) {
    a.data_offset = at;
    if (a.data_bytes > UINT64_MAX - at - kDataAlignment) {
      throw Error(ErrorCategory::invalid_argument, "file size overflows", {{"name", a.name}});
    }
    at = round_up(at + a.data_bytes, kDataAlignment);
  }
  layout.file_bytes = at;
  return layout;
}

Parsed parse(const ReadAt& read, std::uint64_t actual_file_bytes, const std::string& file) {
  if (actual_file_bytes < kHeaderBytes) {
    corrupt(file, "header", "file is " + std::to_string(actual_file_bytes) +
                                " bytes, shorter than the 512-byte header (truncated or not a .strata file)");
  }
  std::array<std::byte, kHeaderBytes> head;
  read(0, head);
  Parsed p;
  p.header = decode_header(head, file);
  const Header& h = p.header;
  if (actual_file_bytes < h.info.file_bytes) {
    corrupt(file, "file_bytes", "file is truncated: the header says " + std::to_string(h.info.file_bytes) +
                                    " bytes, the file has " + std::to_string(actual_file_bytes));
  }
  if (actual_file_bytes > h.info.file_bytes) {
    corrupt(file, "file_bytes", "trailing bytes: the header says " + std::to_string(h.info.file_bytes) +
                                    " bytes, the file has " + std::to_string(actual_file_bytes));
  }
  // Regions as [first, last) with names, to check bounds and overlaps.
  struct Region {
    std::uint64_t first, last;
    std::string field;
  };
  std::vector<Region> regions{{0, kHeaderBytes, "header"}};
  auto add_region = [&](std::uint64_t offset, std::uint64_t bytes, const std::string& field) {
    if (offset > h.info.file_bytes || bytes > h.info.file_bytes - offset) {
      corrupt(file, field, "region [" + std::to_string(offset) + ", +" + std::to_string(bytes) +
                               ") lies past the end of the file (" + std::to_string(h.info.file_bytes) + " bytes)");
    }
    if (bytes > 0) regions.push_back({offset, offset + bytes, field});
  };
  add_region(h.table_offset, h.table_bytes, "table_offset");
  add_region(h.metadata_offset, h.metadata_bytes, "metadata_offset");

  std::vector<std::byte> table(h.table_bytes);
  read(h.table_offset, table);
  if (checksum(table) != h.table_checksum) corrupt(file, "table_checksum", "array table checksum mismatch");
  std::vector<std::byte> meta(h.metadata_bytes);
  read(h.metadata_offset, meta);
  if (checksum(meta) != h.metadata_checksum) corrupt(file, "metadata_checksum", "metadata checksum mismatch");
  p.metadata = decode_metadata(meta, file);

  std::set<std::string> names;
  for (std::size_t i = 0; i < h.array_count; ++i) {
    ArrayInfo a = decode_entry(std::span<const std::byte>(table).subspan(i * kEntryBytes, kEntryBytes), file, i);
    const std::string at = "arrays[" + std::to_string(i) + "].";
    if (!names.insert(a.name).second) corrupt(file, at + "name", "duplicate array name '" + a.name + "'");
    add_region(a.data_offset, a.data_bytes, at + "data_offset");
    if (a.chunk_count > (h.info.file_bytes / 8)) corrupt(file, at + "chunk_count", "checksum table larger than the file");
    add_region(a.checksum_offset, a.chunk_count * 8, at + "checksum_offset");
    std::vector<std::uint64_t> sums(a.chunk_count);
    read(a.checksum_offset, std::as_writable_bytes(std::span(sums)));
    p.checksums.push_back(std::move(sums));
    p.arrays.push_back(std::move(a));
  }
  std::sort(regions.begin(), regions.end(), [](const Region& x, const Region& y) { return x.first < y.first; });
  for (std::size_t i = 1; i < regions.size(); ++i) {
    if (regions[i].first < regions[i - 1].last) {
      corrupt(file, regions[i].field, "overlaps " + regions[i - 1].field);
    }
  }
  return p;
}

}  // namespace strata::io::detail
