// SPDX-License-Identifier: Apache-2.0
// StrataWriter: creates a `.strata` file (docs/formats.md). Arrays are declared up front, so the
// layout is fixed; data is then written chunk by chunk — from several threads at once if wanted —
// with each chunk's XXH3 computed as it is written. finish() writes the tables and the header
// last, fsyncs, and renames the file into place: a file that exists under its name is complete.
//
//   strata::io::StrataWriter w("out.strata", {{"energy", strata::DType::f64, {n}}});
//   w.append(0, std::as_bytes(std::span(values)));
//   w.finish();
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "strata/io/format/strata_file.hpp"
#include "strata/runtime/base/dtype.hpp"

namespace strata::io {

struct ArraySpec {
  std::string name;
  DType dtype = DType::f64;
  Shape shape;
  // Checksum granularity; a multiple of 4096. 4 MiB keeps a verify pass parallel and a bad chunk
  // small, with 2 KiB of checksums per GiB.
  std::uint64_t chunk_bytes = std::uint64_t{4} << 20;
};

class StrataWriter {
 public:
  // Lays out the file and creates it under a temporary name next to `path`. Throws
  // Error(invalid_argument) for bad names, shapes, duplicate names or metadata over the bounds,
  // Error(io) / Error(resource) when the file cannot be created or the disk has no room.
  StrataWriter(std::string path, std::vector<ArraySpec> arrays, Metadata metadata = {},
               std::string creator = "strata");
  StrataWriter(StrataWriter&&) noexcept;
  StrataWriter& operator=(StrataWriter&&) noexcept;
  // Without finish(), removes the temporary file: an unfinished file never appears.
  ~StrataWriter();

  // The layout as it will be on disk (offsets, chunk counts).
  const std::vector<ArrayInfo>& arrays() const noexcept;

  // Writes chunk `chunk` of array `array` (exactly chunk_bytes, or the remainder for the last
  // chunk). Thread-safe for distinct chunks. Error(invalid_argument) for wrong sizes or a chunk
  // written twice, Error(io)/Error(resource) on write errors (a full disk).
  void write_chunk(std::size_t array, std::uint64_t chunk, std::span<const std::byte> data);
  // Appends the next bytes of `array` in order (any amount; buffers whole chunks). Not
  // thread-safe with other calls for the same array.
  void append(std::size_t array, std::span<const std::byte> data);

  // Checks every chunk was written, writes checksums, metadata, table and header, fsyncs, renames
  // into place and fsyncs the folder. Error(invalid_argument) naming the first missing chunk.
  void finish();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::io
