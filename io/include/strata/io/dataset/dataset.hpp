// SPDX-License-Identifier: Apache-2.0
// Dataset: one array to analyse, from a `.strata` file or an HDF5 file, named the way users write
// it on a command line, and this rank's share of it.
//
//   auto ds = strata::io::Dataset::open("particles.strata:energy");   // or "run.h5:/fields/energy"
//   auto part = ds.partition(rt.rank(), rt.size());                  // rows split by partition_rows
//   std::span<const double> mine = part.as<double>();
//
// A `.strata` partition is a zero-copy view of the mapped file: the rank touches only the pages of
// its own rows, and each checksum chunk is verified when first handed out — exactly once per opened
// Dataset, however many threads ask for it at once (the others wait for the verdict). An HDF5
// partition is read (its hyperslab) into memory owned by the partition.
//
// For a pass over the data, strata::reduce(ex, part, acc) (partition_source.hpp) verifies each
// chunk in the thread that consumes it; as<T>() verifies all of them first, on the calling thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "strata/io/dataset/partition.hpp"
#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/progress.hpp"

namespace strata::io {

class StrataFile;

enum class DatasetSource { strata, hdf5 };

class Partition {
 public:
  RowRange rows() const noexcept { return rows_; }
  DType dtype() const noexcept { return dtype_; }
  // The partition's shape: its rows by the dataset's other extents.
  const Shape& shape() const noexcept { return shape_; }
  std::uint64_t row_bytes() const noexcept { return shape_.row_elements() * dtype_bytes(dtype_); }
  // The partition's size in bytes (reads and verifies nothing).
  std::uint64_t size_bytes() const noexcept { return rows_.count * row_bytes(); }
  // All of the partition's bytes: verifies every chunk they cover first, serially, on the calling
  // thread (chunks already verified are skipped).
  // Like as<T>(), not on a temporary: the view would outlive the partition that owns it.
  std::span<const std::byte> bytes() const& { return bytes(0, size_bytes()); }
  std::span<const std::byte> bytes() const&& = delete;
  // [offset, offset + n) of the partition's bytes; verifies only the checksum chunks these cover
  // that are not verified yet, in the calling thread, so a reader pays for verification as it
  // goes. Error(corrupt_data) naming file, array and chunk for a bad chunk.
  std::span<const std::byte> bytes(std::uint64_t offset, std::uint64_t n) const&;
  std::span<const std::byte> bytes(std::uint64_t offset, std::uint64_t n) const&& = delete;
  // Copies [offset, offset + out.size()) into `out` (pread from a .strata file, straight into
  // `out`) and verifies on that copy, in the calling thread, each checksum chunk `out` holds whole;
  // a chunk it holds only in part is verified as bytes() verifies it. Each chunk is verified once
  // per Dataset, as with bytes(). Error(corrupt_data) naming file, array and chunk for a bad chunk.
  void read(std::uint64_t offset, std::span<std::byte> out) const;
  // The values as T, all verified (see bytes()). Error(invalid_argument) when T is not the dtype.
  // A view into the partition (an HDF5 partition owns the memory), so the partition must outlive
  // it: keep it in a variable. On a temporary (`ds.partition(r, n).as<float>()`) it does not
  // compile.
  template <class T>
  std::span<const T> as() const& {
    check_dtype(dtype_of<T>());
    auto b = bytes();
    return {reinterpret_cast<const T*>(b.data()), b.size() / sizeof(T)};
  }
  template <class T>
  std::span<const T> as() const&& = delete;
  // Error(invalid_argument) when `wanted` is not the dataset's dtype.
  void check_dtype(DType wanted) const;

  // Bytes per checksum chunk of the file, 0 when the bytes carry no checksums (HDF5, in memory).
  std::uint64_t checksum_chunk_bytes() const noexcept;
  // Where the partition's first byte lies inside its checksum chunk (0: on a chunk boundary).
  std::uint64_t checksum_chunk_offset() const noexcept;
  // Checksum chunks of this array verified so far through this Dataset's partitions — each is
  // counted once, when its checksum is computed: a statistic for tests and reports.
  std::uint64_t chunks_verified() const noexcept;

  struct Impl;
  // The memory a .strata partition's bytes are mapped at (nothing is read or verified); null for
  // an HDF5 partition or an empty one.
  const std::byte* mapped_address() const noexcept;
  // Where the partition's bytes come from: the file, and the array's name in it.
  const std::string& file() const noexcept;
  // The first byte's offset in the array's data (rows().first * row_bytes()).
  std::uint64_t first_byte() const noexcept { return rows_.first * row_bytes(); }

  Partition(std::shared_ptr<const Impl> impl, RowRange rows, DType dtype, Shape shape)
      : impl_(std::move(impl)), rows_(rows), dtype_(dtype), shape_(shape) {}

 private:
  std::shared_ptr<const Impl> impl_;
  RowRange rows_;
  DType dtype_ = DType::u8;
  Shape shape_;
};

class Dataset {
 public:
  // "file.strata" (a file with one array), "file.strata:array", or "file.h5:/group/dataset"
  // ("file.h5:group/dataset", h5py's spelling, is the same when file.h5 is an HDF5 file).
  // Errors of StrataFile::open / Hdf5Dataset::open; Error(invalid_argument) naming the spec when a
  // .strata file has several arrays and none is named, or an HDF5 file is given without a path.
  static Dataset open(const std::string& spec);

  DatasetSource source() const noexcept;
  const std::string& file() const noexcept;
  // The array's name in a .strata file, the dataset path in an HDF5 file.
  const std::string& name() const noexcept;
  DType dtype() const noexcept;
  const Shape& shape() const noexcept;
  std::uint64_t rows() const noexcept { return shape().rank() == 0 ? 1 : shape()[0]; }

  // Rank `rank` of `size`'s rows under partition_rows (a rank may get none). An HDF5 dataset's
  // rows are read (and decompressed) here; `progress`, when given, follows that read.
  Partition partition(int rank, int size, Progress* progress = nullptr) const;

  struct Impl;

 private:
  explicit Dataset(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata::io
