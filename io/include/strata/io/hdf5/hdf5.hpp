// SPDX-License-Identifier: Apache-2.0
// HDF5 interop: import a numeric HDF5 dataset into a `.strata` file, export arrays (from memory
// or a whole `.strata` file) to HDF5 that h5py and h5dump read, and read an HDF5 dataset directly,
// each MPI rank its own hyperslab of rows (parallel HDF5, collective MPI-IO, under mpirun/srun).
//
//   auto src = strata::io::Hdf5Path::parse("particles.h5:/fields/energy");
//   strata::io::import_hdf5(src, "energy.strata");                  // bounded memory, any size
//   auto ds = strata::io::Hdf5Dataset::open_collective(src);          // every rank calls it
//   std::vector<double> mine(ds.partition().count * ds.shape().row_elements());
//   ds.read_partition(std::as_writable_bytes(std::span(mine)));       // collective
//   strata::io::export_array("out.h5", "/hist/energy", strata::DType::u64, {64}, bytes);
//
// The HDF5 library this links is not thread-safe: every function here takes one process-wide
// lock, so calls from several threads are safe but run one at a time. HDF5's own error printing
// is silenced inside these calls; its innermost message lands in the Error's "hdf5" context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/io/dataset/partition.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/base/progress.hpp"

namespace strata::io {

// A dataset inside an HDF5 file, written "file.h5:/group/dataset". The split is at the last
// ":/", so file names may contain ':' (HDF5 object names containing ":/" cannot be named).
struct Hdf5Path {
  std::string file;     // as given; not checked for existence here
  std::string dataset;  // absolute: starts with '/', no empty component, no trailing '/'

  // Throws Error(invalid_argument) naming the spec when there is no ":/", the file part is empty,
  // or the dataset part is "/" or has an empty component ("//", trailing '/').
  static Hdf5Path parse(std::string_view spec);
  // "file.h5:/group/dataset"
  std::string to_string() const;
  // The last component of the dataset path ("energy" for "/fields/energy").
  std::string leaf() const;
};

// How an HDF5 dataset is stored, for provenance and for `strata inspect`.
struct Hdf5Storage {
  std::string hdf5_type;             // h5dump's name for the file type: "H5T_IEEE_F64LE", ...
  std::string layout;                // "contiguous", "chunked", "compact" or "virtual"
  std::vector<std::uint64_t> chunk;  // chunk extents when chunked, else empty
  std::vector<std::string> filters;  // pipeline in order: "deflate", "shuffle", ...
  // Files outside the HDF5 file that hold the data, as HDF5 resolves them: the external raw-data
  // files of a dataset with external storage, or the source files of a virtual dataset (sources
  // in the dataset's own file are not listed). Empty for ordinary datasets.
  std::vector<std::string> external_files;
};

// How an HDF5 dataset may be opened.
struct Hdf5OpenOptions {
  // A dataset whose data lives in other files (external storage, H5Pset_external; a virtual
  // dataset mapping other files) makes HDF5 read files the user never named, so it is refused
  // unless this is set. A virtual dataset whose source file or dataset is missing is refused
  // either way (HDF5 would return fill values for it).
  bool allow_external = false;
};

// An open numeric HDF5 dataset, read by hyperslab. Move-only; closing is collective for a dataset
// opened with open_collective (every rank must destroy its object, as every rank opened it).
class Hdf5Dataset {
 public:
  // Opens for this process alone (the default POSIX driver), e.g. one rank reading on its own.
  // Throws Error(io) naming the file when it is missing or unreadable, Error(invalid_argument)
  // naming file and path when it is not an HDF5 file, the path (or a group on it) does not exist
  // or is not a dataset, the type is not numeric (naming the type), it is scalar or null, or its
  // rank is over Shape::kMaxRank. Error(invalid_argument) naming the files for a dataset stored
  // in other files unless options.allow_external, and for a virtual dataset with a missing source.
  static Hdf5Dataset open(const Hdf5Path& path, const Hdf5OpenOptions& options = {});
  static Hdf5Dataset open(std::string_view path_spec, const Hdf5OpenOptions& options = {});
  // Collective over MPI_COMM_WORLD: every rank must call it with the same path. With more than one
  // rank the file is opened through MPI-IO (parallel HDF5), so read_partition() is one collective
  // transfer; with one rank, or when MPI is not initialised, it is the same as open().
  // Same errors as open(); Error(distributed) when MPI has been finalized.
  static Hdf5Dataset open_collective(const Hdf5Path& path, const Hdf5OpenOptions& options = {});

  Hdf5Dataset(Hdf5Dataset&&) noexcept;
  Hdf5Dataset& operator=(Hdf5Dataset&&) noexcept;
  ~Hdf5Dataset();

  const Hdf5Path& path() const noexcept;
  DType dtype() const noexcept;
  const Shape& shape() const noexcept;
  std::uint64_t rows() const noexcept { return shape()[0]; }
  std::uint64_t row_bytes() const noexcept { return shape().row_elements() * dtype_bytes(dtype()); }
  const Hdf5Storage& storage() const noexcept;
  // True when opened through MPI-IO (open_collective with more than one rank).
  bool collective() const noexcept;
  // This process's place among those that opened the dataset: MPI_COMM_WORLD's rank and size for
  // open_collective under MPI, rank 0 of 1 otherwise.
  int rank() const noexcept;
  int size() const noexcept;

  // Reads the block start[d] .. start[d] + count[d] (one entry per dimension) into `out`,
  // row-major, converted to the native byte order of dtype(). Throws Error(invalid_argument) when
  // the block is outside the shape or out.size() is not the block's byte count, Error(io) when
  // HDF5 fails to read (a corrupt chunk, a missing filter).
  void read_block(std::span<const std::uint64_t> start, std::span<const std::uint64_t> count,
                  std::span<std::byte> out) const;
  // Rows [first_row, first_row + rows) into `out` (rows * row_bytes() bytes). Independent: any
  // rank, any time. Errors as read_block().
  void read_rows(std::uint64_t first_row, std::uint64_t rows, std::span<std::byte> out) const;
  // The same rows in a new buffer. Throws Error(resource) stating the bytes needed and the bytes
  // available when they exceed the memory this process can still take (read_memory_availability),
  // before allocating anything; errors of read_block() otherwise. With `progress`, read in slabs
  // of about 64 MiB, adding the bytes to read to its total and each slab's bytes once read.
  std::vector<std::byte> read_rows(std::uint64_t first_row, std::uint64_t rows,
                                   Progress* progress = nullptr) const;

  // This process's rows under partition_rows(rows(), rank(), size()).
  RowRange partition() const;
  // Reads partition() into `out` (partition().count * row_bytes() bytes). Collective when
  // collective(): every rank must call it, ranks with no rows included, and a rank whose `out`
  // has the wrong size makes every rank throw Error(invalid_argument) (the size check is agreed
  // over MPI first, so no rank is left waiting in the transfer). Returns the rows read, and
  // reports in `collective_transfer` whether MPI-IO really did a collective transfer.
  RowRange read_partition(std::span<std::byte> out, bool* collective_transfer = nullptr) const;

  struct Impl;

 private:
  explicit Hdf5Dataset(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Hdf5ImportOptions {
  // Name of the array in the `.strata` file; empty means the dataset's leaf name.
  std::string array_name;
  // Upper bound on the bytes held in memory at once: the dataset is read in slabs of whole rows
  // (or, when one row is larger, of parts of a row) no larger than this. At least 4096.
  std::size_t slab_bytes = std::size_t{64} << 20;
  // The `.strata` checksum chunk (see ArraySpec::chunk_bytes).
  std::uint64_t chunk_bytes = std::uint64_t{4} << 20;
  // Appended after the provenance entries that import writes.
  Metadata metadata;
  // Read a dataset stored in other files (see Hdf5OpenOptions); they are then recorded in the
  // provenance as "source.external_files".
  bool allow_external = false;
  // When set, gets the dataset's bytes as its total and every slab's bytes once written.
  Progress* progress = nullptr;
};

struct Hdf5ImportResult {
  std::string array_name;
  DType dtype = DType::u8;
  Shape shape;
  std::uint64_t data_bytes = 0;
  std::uint64_t slabs = 0;  // hyperslab reads done
  std::uint64_t largest_slab_bytes = 0;
};

// Imports one numeric dataset (rank 1 to 8, contiguous, compact or chunked, any filter the
// library has, such as gzip) into a new `.strata` file holding one array, with provenance in its
// metadata: "source.format" = "hdf5", "source.file" (absolute path), "source.dataset",
// "source.hdf5_type", "source.layout" ("chunked [64, 3]") and "source.filters" ("deflate" or
// "none"), and "source.external_files" (one absolute path per line) when the data came from other
// files (options.allow_external). Error(invalid_argument) when strata_path is the HDF5 file itself
// (same file, whatever the spelling or symlink). Errors of Hdf5Dataset::open, plus StrataWriter's (e.g. a leaf name that is not a valid
// array name: pass array_name). Nothing appears at strata_path unless the import completes.
Hdf5ImportResult import_hdf5(const Hdf5Path& source, const std::string& strata_path,
                             const Hdf5ImportOptions& options = {});

struct Hdf5ExportOptions {
  // Gzip (deflate) level 1 to 9; 0 writes uncompressed. Compression needs chunked layout.
  int gzip_level = 0;
  // Rows of the first dimension per chunk; 0 means contiguous without gzip, and about 1 MiB
  // chunks with it. Chunks span the full extent of the other dimensions.
  std::uint64_t chunk_rows = 0;
  // Upper bound on the bytes handed to one HDF5 write (export_strata reads its source in slabs).
  std::size_t slab_bytes = std::size_t{64} << 20;
  // export_strata only: replace an existing HDF5 file instead of refusing.
  bool overwrite = false;
  // export_array only: written as attributes of the root group (replacing any of the same name),
  // e.g. where the array came from.
  Metadata root_attributes;
  // When set, gets the bytes to write as its total (every array of export_strata, the region of
  // export_checkpoint_region) and every slab's bytes once written.
  Progress* progress = nullptr;
};

// Writes `data` (row-major, native byte order, exactly shape.byte_count(dtype) bytes) as a new
// dataset of standard little-endian type (H5T_IEEE_F64LE, H5T_STD_I32LE, ...) at `dataset_path`
// in `h5_file`, creating the file and any missing groups on the way. Rank 0 writes a scalar.
// Throws Error(invalid_argument) for a data size that does not match, a bad dataset path, a
// gzip level outside 0..9, or a dataset that already exists (nothing is replaced), and Error(io)
// naming the file when it cannot be created, opened or written.
void export_array(const std::string& h5_file, std::string_view dataset_path, DType dtype,
                  const Shape& shape, std::span<const std::byte> data,
                  const Hdf5ExportOptions& options = {});

// Writes one global region of checkpoint `step` in folder `dir` as a new dataset `dataset_path`
// of `h5_file`, as export_array does, reading and writing it in slabs of options.slab_bytes (or
// one row, when a row is larger): memory stays bounded whatever the region's size. Throws
// Error(invalid_argument) for an unknown or rank-local region, Error(corrupt_data) for a chunk
// failing its checksum, Error(io) for a missing step or shard, and export_array's errors.
void export_checkpoint_region(const std::string& dir, long step, const std::string& region,
                              const std::string& h5_file, std::string_view dataset_path,
                              const Hdf5ExportOptions& options = {});

// Writes every array of a `.strata` file to a new HDF5 file, each as dataset "/<name>", and the
// file's metadata as variable-length UTF-8 string attributes of the root group (a value that is
// not UTF-8 or holds a NUL byte becomes a variable-length sequence of u8). The file is written
// under a temporary name and renamed into place when complete. Throws StrataFile::open's errors,
// Error(corrupt_data) for a chunk failing its checksum, Error(invalid_argument) when h5_file
// exists and options.overwrite is false or is the `.strata` file itself (same file, whatever the
// spelling), Error(resource) with the reason for a full disk or quota, and Error(io) when it
// cannot be written otherwise. The root group also gets "strata.exported_from" = strata_path
// (unless the metadata has that key), which marks the file as strata's.
void export_strata(const std::string& strata_path, const std::string& h5_file,
                   const Hdf5ExportOptions& options = {});

// True when `h5_file` is a regular HDF5 file that export_strata wrote (its root group has the
// attribute "strata.exported_from"): what `strata export` replaces without --overwrite.
bool is_strata_hdf5_export(const std::string& h5_file);

}  // namespace strata::io
