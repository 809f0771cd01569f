// SPDX-License-Identifier: Apache-2.0
// StrataFile: an open `.strata` dataset file (docs/formats.md) — header, array table and metadata
// validated field by field on open, array data mapped with zero copies, chunk checksums verified
// in full by verify() or lazily the first time a chunk is handed out.
//
//   auto f = strata::io::StrataFile::open("particles.strata");
//   const auto& energy = f.array("energy");
//   auto bytes = f.bytes(energy, 0, energy.data_bytes);   // checks the chunks it covers, once
//   if (auto bad = f.verify(); !bad.ok()) std::cerr << bad.message();
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/base/progress.hpp"

namespace strata::io {

// Array data starts at multiples of this, so each array can be mapped with 2 MiB pages.
inline constexpr std::uint64_t kDataAlignment = std::uint64_t{2} << 20;
inline constexpr std::uint16_t kFormatMajor = 1;
inline constexpr std::uint16_t kFormatMinor = 0;
inline constexpr std::size_t kMaxArrays = 4096;
inline constexpr std::size_t kMaxNameBytes = 63;
inline constexpr std::size_t kMaxMetadataBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxMetadataEntries = 1024;
// Chunk sizes: a multiple of kChunkUnit (4 KiB, a multiple of every element size) up to
// kMaxChunkBytes (1 GiB, far above the 1-64 MiB strata writes by default), so chunk arithmetic
// never nears 2^64; the writer refuses and the reader rejects anything else.
inline constexpr std::uint64_t kChunkUnit = 4096;
inline constexpr std::uint64_t kMaxChunkBytes = std::uint64_t{1} << 30;

using Metadata = std::vector<std::pair<std::string, std::string>>;

struct ArrayInfo {
  std::string name;
  DType dtype = DType::u8;
  Shape shape;
  std::uint64_t data_offset = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t chunk_bytes = 0;
  std::uint64_t chunk_count = 0;
  std::uint64_t checksum_offset = 0;

  std::uint64_t rows() const noexcept { return shape.rank() == 0 ? 1 : shape[0]; }
  std::uint64_t row_bytes() const noexcept { return shape.row_elements() * dtype_bytes(dtype); }
};

struct FileHeader {
  std::uint16_t version_major = 0;
  std::uint16_t version_minor = 0;
  std::array<std::uint8_t, 16> uuid{};
  std::int64_t created_unix_ns = 0;
  std::string creator;
  std::uint64_t file_bytes = 0;

  std::string uuid_string() const;  // 8-4-4-4-12 hex
};

// The first bad chunk found by verify(), if any.
struct VerifyResult {
  std::uint64_t chunks_checked = 0;
  std::uint64_t bytes_checked = 0;
  std::optional<std::string> bad_array;
  std::uint64_t bad_chunk = 0;
  std::uint64_t expected = 0;
  std::uint64_t actual = 0;

  bool ok() const noexcept { return !bad_array.has_value(); }
  // "array 'energy' chunk 17 (bytes 71303168..75497472): checksum 0x... expected 0x..."
  std::string message() const;
};

class StrataFile {
 public:
  enum class Access { read_only, read_write };

  // Opens and validates. Throws Error(io) when the file cannot be opened or mapped and
  // Error(corrupt_data) naming the file and the field when any check of docs/formats.md fails.
  static StrataFile open(const std::string& path, Access access = Access::read_only);
  // Validates an in-memory image of a whole file (the fuzzer's entry point; also used by tests)
  // and returns its arrays. Same errors as open(); `name` stands in for the path in messages.
  static std::vector<ArrayInfo> validate_image(std::span<const std::byte> image,
                                               const std::string& name);
  // The same for a file of `file_bytes` whose first bytes are `prefix` and whose rest reads as
  // zeros (a sparse file): lets a fuzzer explore large layouts with small inputs.
  static std::vector<ArrayInfo> validate_image(std::span<const std::byte> prefix,
                                               std::uint64_t file_bytes, const std::string& name);

  StrataFile(StrataFile&&) noexcept;
  StrataFile& operator=(StrataFile&&) noexcept;
  ~StrataFile();  // flushes a read-write file (errors are logged; call flush() to see them)

  const std::string& path() const noexcept;
  const FileHeader& header() const noexcept;
  const std::vector<ArrayInfo>& arrays() const noexcept;
  // Throws Error(invalid_argument) naming the file, the array and the arrays it has.
  const ArrayInfo& array(std::string_view name) const;
  const Metadata& metadata() const noexcept;

  // A zero-copy view of [offset, offset + bytes) of an array's data. The chunks it covers are
  // verified the first time any view covers them (Error(corrupt_data) naming array and chunk).
  // Checks the file still has its size first, so a file truncated since open is an error here,
  // not a SIGBUS in the caller.
  // Not on a temporary StrataFile: the view would outlive the mapping.
  std::span<const std::byte> bytes(const ArrayInfo& array, std::uint64_t offset,
                                   std::uint64_t bytes) const&;
  std::span<const std::byte> bytes(const ArrayInfo& array, std::uint64_t offset,
                                   std::uint64_t bytes) const&& = delete;
  // Copies [offset, offset + out.size()) into `out` with pread: safe even if the file is
  // truncated meanwhile. Verifies like bytes().
  void read(const ArrayInfo& array, std::uint64_t offset, std::span<std::byte> out) const;
  // Where the array's data is mapped: nothing is read or verified (the file's size is checked);
  // null for an empty array or a file truncated below it.
  const std::byte* mapped_data(const ArrayInfo& array) const noexcept;
  // Copies [offset, offset + out.size()) of an array into `out` with pread and verifies nothing:
  // for a caller that verifies the copy itself with check_chunk (a resident load reads straight
  // into its own memory, no staging buffer, and checks each chunk while it is in cache). A file
  // shorter than the range is Error(corrupt_data), a failing read Error(io).
  void read_unverified(const ArrayInfo& array, std::uint64_t offset,
                       std::span<std::byte> out) const;
  // Checks `copy`, the whole of chunk `chunk` of an array, against the chunk's stored checksum and
  // marks the chunk verified. Error(corrupt_data) naming file, array and chunk when it differs;
  // Error(invalid_argument) when `copy` is not the chunk's size.
  void check_chunk(const ArrayInfo& array, std::uint64_t chunk,
                   std::span<const std::byte> copy) const;
  // Read-write files only: a writable view; the chunks it covers get new checksums on flush().
  std::span<std::byte> writable(const ArrayInfo& array, std::uint64_t offset,
                                std::uint64_t bytes) &;
  std::span<std::byte> writable(const ArrayInfo& array, std::uint64_t offset,
                                std::uint64_t bytes) && = delete;
  // Writes the checksums of modified chunks and syncs data and tables to disk.
  void flush();

  // Checks every chunk of every array (in parallel when threads > 1) and reports the first bad.
  // `threads` is counted as Executor::resolve_threads counts it: 0 means STRATA_THREADS, or else
  // one per CPU this process may use; more than 16 per allowed CPU is Error(invalid_argument)
  // (Error(config) when it came from STRATA_THREADS). `progress`, when given, gets the bytes to
  // check and every chunk's bytes once checked (for a ProgressReport).
  VerifyResult verify(unsigned threads = 1, Progress* progress = nullptr) const;

  struct Impl;

 private:
  explicit StrataFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when `path` is a regular file that starts with the `.strata` magic (nothing else is
// checked: a damaged `.strata` file is still one). False for anything else, missing included.
bool is_strata_file(const std::string& path);

}  // namespace strata::io
