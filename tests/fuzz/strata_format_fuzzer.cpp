// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the .strata header, table and metadata parser. The input is the start of
// a file; its last 8 bytes say how long the (sparse, zero-filled) file claims to be. Each input is
// parsed twice: as it is (checksums must reject it) and resealed — header and table checksums
// recomputed — so mutations reach the field checks behind them. Anything but a clean
// strata::Error (a crash, a sanitizer report, another exception) is a finding, and so is a file
// that parses but whose chunks do not tile each array's data (the chunk count wrapped).
//
// The custom mutator sets header and table fields to the values where size arithmetic breaks —
// 0, 1, 2^k and 2^k±1, 2^63, 2^64-1, 2^64-2^k, the claimed file size ±1, a field's own value ±1,
// a chunk count as a wrapping reader would compute it — as well as libFuzzer's random bytes.
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "strata/io/format/strata_file.hpp"
#include "strata/runtime/base/error.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

// Large enough for layouts with data past 2 MiB alignment; small enough that no allocation the
// parser makes from it (tables are bounded by the file size) can exhaust memory.
constexpr std::uint64_t kMaxClaimedBytes = std::uint64_t{64} << 20;
constexpr std::size_t kHeaderBytes = 512;
constexpr std::size_t kEntryBytes = 256;

// The chunks [0, chunk_count) of chunk_bytes must cover data_bytes exactly: the last one starts
// inside the data. Checked in 128 bits so the check itself cannot wrap.
bool chunks_tile(const strata::io::ArrayInfo& a) {
  using Wide = unsigned __int128;
  if (a.chunk_bytes == 0) return false;
  if (a.data_bytes == 0) return a.chunk_count == 0;
  return a.chunk_count > 0 && Wide{a.chunk_count} * a.chunk_bytes >= a.data_bytes &&
         Wide{a.chunk_count - 1} * a.chunk_bytes < a.data_bytes;
}

void parse(const std::vector<std::byte>& prefix, std::uint64_t file_bytes) {
  try {
    for (const auto& a : strata::io::StrataFile::validate_image(prefix, file_bytes, "fuzz-input")) {
      if (!chunks_tile(a)) __builtin_trap();  // accepted a chunk layout readers cannot walk
    }
  } catch (const strata::Error&) {
    // The expected outcome for malformed input.
  }
}

// A little-endian field of the input: offset and width in bytes.
struct Field {
  std::size_t offset;
  std::size_t bytes;
};

std::uint64_t load(const std::uint8_t* data, Field f) {
  std::uint64_t v = 0;
  std::memcpy(&v, data + f.offset, f.bytes);
  return v;
}

void store(std::uint8_t* data, Field f, std::uint64_t v) {
  std::memcpy(data + f.offset, &v, f.bytes);
}

// The header's size and offset fields, then per array entry the header declares (at most 8 of
// those the input holds): extents, data_offset, data_bytes, chunk_bytes, chunk_count,
// checksum_offset, rank (docs/formats.md).
std::vector<Field> fields_of(const std::uint8_t* data, std::size_t prefix_bytes) {
  std::vector<Field> fields{{104, 8}, {112, 4}, {116, 4}, {120, 8},
                            {128, 8}, {144, 8}, {152, 8}, {8, 2}};
  const std::uint64_t arrays = std::min<std::uint64_t>(load(data, {112, 4}), 8);
  for (std::size_t entry = kHeaderBytes;
       entry + kEntryBytes <= prefix_bytes && entry < kHeaderBytes + arrays * kEntryBytes;
       entry += kEntryBytes) {
    for (std::size_t d = 0; d < 8; ++d) fields.push_back({entry + 72 + 8 * d, 8});
    for (std::size_t at : {136, 144, 152, 160, 168}) fields.push_back({entry + at, 8});
    fields.push_back({entry + 65, 1});  // rank
  }
  return fields;
}

// The chunk count of the entry at `entry` as (data_bytes + chunk_bytes - 1) / chunk_bytes computes
// it, wrapping: it agrees with a reader that wraps the same way, so only a reader that checks the
// sum rejects the entry.
std::uint64_t wrapping_chunk_count(const std::uint8_t* data, std::size_t entry) {
  const std::uint64_t data_bytes = load(data, {entry + 144, 8});
  const std::uint64_t chunk_bytes = load(data, {entry + 152, 8});
  return chunk_bytes == 0 ? 0 : (data_bytes + chunk_bytes - 1) / chunk_bytes;
}

// A value where arithmetic on `f` is likely to break.
std::uint64_t boundary_value(std::mt19937_64& rng, const std::uint8_t* data, std::size_t size,
                             Field f) {
  const std::uint64_t current = load(data, f);
  std::uint64_t claimed = 0;
  std::memcpy(&claimed, data + size - 8, 8);
  const unsigned k = static_cast<unsigned>(rng() % 64);
  const std::uint64_t p = std::uint64_t{1} << k;
  switch (rng() % 13) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return p;
    case 3:
      return p - 1;
    case 4:
      return p + 1;
    case 5:
      return UINT64_MAX;
    case 6:
      return std::uint64_t{1} << 63;
    case 7:
      return 0 - p;  // 2^64 - 2^k: a huge multiple of every small power of 2
    case 8:
      return claimed + (rng() % 3) - 1;  // the file size and its neighbours
    case 9:
      return current + (rng() % 2 ? 1 : -1);
    case 10:
      return UINT64_MAX - (rng() % 4096);
    case 11:
      return 0 - (std::uint64_t{4096} << (rng() % 4));  // 2^64 less a few 4 KiB units
    default:
      if (f.offset < kHeaderBytes || (f.offset - kHeaderBytes) % kEntryBytes != 160) return p;
      return wrapping_chunk_count(data, f.offset - 160);
  }
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int seed) {
  std::mt19937_64 rng(seed);
  if (size < kHeaderBytes + 8 || rng() % 3 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const std::vector<Field> fields = fields_of(data, size - 8);
  const Field claimed{size - 8, 8};
  for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
    const Field f = rng() % 8 == 0 ? claimed : fields[rng() % fields.size()];
    store(data, f, boundary_value(rng, data, size, f));
    // Keep the chunk count in step with a changed chunk size half of the time, as a writer with
    // the same arithmetic would.
    if (f.offset >= kHeaderBytes && (f.offset - kHeaderBytes) % kEntryBytes == 152 &&
        rng() % 2 == 0) {
      store(data, {f.offset + 8, 8}, wrapping_chunk_count(data, f.offset - 152));
    }
  }
  return size;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t claimed;
  std::memcpy(&claimed, data + size - 8, 8);
  claimed %= kMaxClaimedBytes;
  std::vector<std::byte> prefix(reinterpret_cast<const std::byte*>(data),
                                reinterpret_cast<const std::byte*>(data) + size - 8);
  parse(prefix, std::max<std::uint64_t>(claimed, prefix.size()));

  if (prefix.size() >= 512) {
    std::uint64_t table_bytes;
    std::memcpy(&table_bytes, prefix.data() + 128, 8);
    if (table_bytes <= prefix.size() - 512) {
      std::uint64_t sum = XXH3_64bits(prefix.data() + 512, table_bytes);
      std::memcpy(prefix.data() + 136, &sum, 8);
    }
    std::uint64_t header_sum = XXH3_64bits(prefix.data(), 504);
    std::memcpy(prefix.data() + 504, &header_sum, 8);
    parse(prefix, std::max<std::uint64_t>(claimed, prefix.size()));
  }
  return 0;
}
