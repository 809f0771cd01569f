// SPDX-License-Identifier: Apache-2.0
// export_array and export_strata: writing arrays as HDF5 datasets of standard little-endian types
// (optionally chunked and gzip-compressed) in bounded hyperslabs, and `.strata` metadata as
// string attributes, so h5py, h5dump and any HDF5 reader open the result.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "checkpoint/checkpoint_reader.hpp"
#include "files/temporary_file.hpp"
#include "hdf5/hdf5_call.hpp"
#include "hdf5/hdf5_handle.hpp"
#include "hdf5/hdf5_links.hpp"
#include "hdf5/hdf5_slabs.hpp"
#include "hdf5/hdf5_types.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/text.hpp"

namespace strata::io {

using detail::Hdf5Call;
using detail::Hdf5Handle;
using detail::throw_hdf5_error;

namespace {

// Chunks chosen for gzip when the caller gives no chunk_rows: large enough that deflate's
// per-chunk overhead is small, small enough that a reader of a few rows decompresses little.
constexpr std::size_t kAutoChunkBytes = std::size_t{1} << 20;
constexpr std::size_t kMinSlabBytes = 4096;
// The root attribute that says export_strata wrote the file (its value: the source path).
constexpr const char* kExportMarker = "strata.exported_from";

void check_options(const Hdf5ExportOptions& options) {
  if (options.gzip_level < 0 || options.gzip_level > 9) {
    throw Error(ErrorCategory::invalid_argument, "gzip level must be 0 (none) to 9",
                {{"gzip_level", std::to_string(options.gzip_level)}});
  }
  if (options.slab_bytes < kMinSlabBytes) {
    throw Error(ErrorCategory::invalid_argument, "export slab must be at least 4096 bytes",
                {{"slab_bytes", std::to_string(options.slab_bytes)}});
  }
}

// Writes `value` as attribute `key` of `object`: a variable-length UTF-8 string when it is text,
// else a variable-length sequence of u8 (no size limit either way: both live in the global heap).
void write_attribute(hid_t object, const std::string& key, const std::string& value,
                     const std::vector<ErrorContext>& context) {
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle type;
  // What an HDF5 variable-length UTF-8 string can hold and h5py can decode to str.
  const bool text = is_utf8(value) && value.find('\0') == std::string::npos;
  if (text) {
    type = Hdf5Handle(H5Tcopy(H5T_C_S1), H5Tclose);
    if (type &&
        (H5Tset_size(type.get(), H5T_VARIABLE) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)) {
      type.reset();
    }
  } else {
    type = Hdf5Handle(H5Tvlen_create(H5T_NATIVE_UINT8), H5Tclose);
  }
  std::vector<ErrorContext> c = context;
  c.push_back({"attribute", key});
  if (!space || !type) throw_hdf5_error(ErrorCategory::system, "cannot make attribute type", c);
  Hdf5Handle attribute(
      H5Acreate2(object, key.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attribute) throw_hdf5_error(ErrorCategory::io, "cannot create the attribute", c);
  herr_t status = 0;
  if (text) {
    const char* chars = value.c_str();
    status = H5Awrite(attribute.get(), type.get(), &chars);
  } else {
    hvl_t bytes{value.size(), const_cast<char*>(value.data())};  // HDF5 only reads through it
    status = H5Awrite(attribute.get(), type.get(), &bytes);
  }
  if (status < 0 || attribute.reset() < 0) {
    detail::throw_hdf5_write_error("cannot write the attribute", c);
  }
}

// Creates `path` (with missing groups) in `file` and writes the array's bytes, which `source`
// hands out in row-major order: source(offset, bytes) -> span of exactly `bytes`.
template <class Source>
void write_dataset(hid_t file, const std::string& path, DType dtype, const Shape& shape,
                   const Hdf5ExportOptions& options, const std::vector<ErrorContext>& context,
                   Source&& source) {
  std::vector<ErrorContext> c = context;
  c.push_back({"dataset", path});
  if (const char* problem = detail::object_path_problem(path)) {
    throw Error(ErrorCategory::invalid_argument, problem, c);
  }
  const detail::LinkWalk walk = detail::walk_links(file, path);
  if (walk.status == detail::LinkWalk::Status::exists) {
    throw Error(ErrorCategory::invalid_argument, "dataset already exists in the HDF5 file", c);
  }
  if (walk.status == detail::LinkWalk::Status::not_a_group) {
    c.push_back({"not_a_group", walk.at});
    throw Error(ErrorCategory::invalid_argument,
                "a component of the dataset path exists and is not a group", c);
  }

  const std::vector<hsize_t> extents(shape.begin(), shape.end());
  const std::size_t element_bytes = dtype_bytes(dtype);
  Hdf5Handle space(
      extents.empty() ? H5Screate(H5S_SCALAR)
                      : H5Screate_simple(static_cast<int>(extents.size()), extents.data(), nullptr),
      H5Sclose);
  Hdf5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  Hdf5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!space || !lcpl || !dcpl || H5Pset_create_intermediate_group(lcpl.get(), 1) < 0) {
    throw_hdf5_error(ErrorCategory::system, "cannot prepare the dataset", c);
  }
  // Chunking needs rank >= 1 and no zero extent (a chunk must fit a fixed-size dimension).
  const bool chunkable = !extents.empty() && shape.element_count() > 0;
  if (chunkable && (options.gzip_level > 0 || options.chunk_rows > 0)) {
    std::vector<hsize_t> chunk(extents);
    if (options.chunk_rows > 0) {
      chunk[0] = std::min<hsize_t>(options.chunk_rows, extents[0]);
    } else {
      chunk = detail::SlabPlan(extents, element_bytes, kAutoChunkBytes).largest_block();
    }
    if (H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) < 0 ||
        (options.gzip_level > 0 &&
         H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzip_level)) < 0)) {
      throw_hdf5_error(ErrorCategory::invalid_argument, "cannot set chunking or gzip", c);
    }
  }
  Hdf5Handle dataset(H5Dcreate2(file, path.c_str(), detail::file_hdf5_type(dtype), space.get(),
                                lcpl.get(), dcpl.get(), H5P_DEFAULT),
                     H5Dclose);
  if (!dataset) detail::throw_hdf5_write_error("cannot create the dataset", c);

  const hid_t memory_type = detail::native_hdf5_type(dtype);
  const detail::SlabPlan plan(extents, element_bytes, options.slab_bytes);
  std::uint64_t offset = 0;
  plan.for_each(
      [&](std::span<const hsize_t> start, std::span<const hsize_t> count, std::size_t bytes) {
        const std::span<const std::byte> data = source(offset, bytes);
        offset += bytes;
        herr_t status = 0;
        if (extents.empty()) {
          status = H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
        } else {
          Hdf5Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
          Hdf5Handle memory_space(
              H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
          status = !file_space || !memory_space ||
                           H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(),
                                               nullptr, count.data(), nullptr) < 0
                       ? -1
                       : H5Dwrite(dataset.get(), memory_type, memory_space.get(), file_space.get(),
                                  H5P_DEFAULT, data.data());
        }
        if (status < 0) detail::throw_hdf5_write_error("cannot write the dataset", c);
        if (options.progress != nullptr) options.progress->add(bytes);
      });
  if (dataset.reset() < 0) detail::throw_hdf5_write_error("cannot close the dataset", c);
}

// Closes a file being written and reports what the close (the final flush) says.
void close_written(Hdf5Handle& file, const std::vector<ErrorContext>& context) {
  if (file.reset() < 0) {
    detail::throw_hdf5_write_error("cannot flush and close the HDF5 file", context);
  }
}

// Writes `source` as a new dataset of h5_file (created, or opened when it is an HDF5 file) and
// sets the root attributes: the body of export_array for any source of bytes.
template <class Source>
void add_dataset(const std::string& h5_file, std::string_view dataset_path, DType dtype,
                 const Shape& shape, const Hdf5ExportOptions& options, Source&& source) {
  const std::vector<ErrorContext> context{{"file", h5_file}};
  Hdf5Call call;
  std::error_code ec;
  Hdf5Handle file;
  if (std::filesystem::exists(h5_file, ec)) {
    const htri_t is_hdf5 = H5Fis_hdf5(h5_file.c_str());
    if (is_hdf5 == 0) {
      throw Error(ErrorCategory::invalid_argument, "exists and is not an HDF5 file", context);
    }
    file = Hdf5Handle(H5Fopen(h5_file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    if (!file) throw_hdf5_error(ErrorCategory::io, "cannot open the HDF5 file to write", context);
  } else {
    file = Hdf5Handle(H5Fcreate(h5_file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file) throw_hdf5_error(ErrorCategory::io, "cannot create the HDF5 file", context);
  }
  write_dataset(file.get(), std::string(dataset_path), dtype, shape, options, context, source);
  for (const auto& [key, value] : options.root_attributes) {
    if (H5Aexists(file.get(), key.c_str()) > 0) H5Adelete(file.get(), key.c_str());
    write_attribute(file.get(), key, value, context);
  }
  close_written(file, context);
}

}  // namespace

void export_array(const std::string& h5_file, std::string_view dataset_path, DType dtype,
                  const Shape& shape, std::span<const std::byte> data,
                  const Hdf5ExportOptions& options) {
  check_options(options);
  const std::size_t bytes = shape.byte_count(dtype);
  if (data.size() != bytes) {
    throw Error(ErrorCategory::invalid_argument, "data size does not match dtype and shape",
                {{"file", h5_file},
                 {"dataset", std::string(dataset_path)},
                 {"expected_bytes", std::to_string(bytes)},
                 {"data_bytes", std::to_string(data.size())}});
  }
  add_dataset(h5_file, dataset_path, dtype, shape, options,
              [&](std::uint64_t offset, std::size_t n) { return data.subspan(offset, n); });
}

void export_checkpoint_region(const std::string& dir, long step, const std::string& region,
                              const std::string& h5_file, std::string_view dataset_path,
                              const Hdf5ExportOptions& options) {
  check_options(options);
  detail::StepReader reader(dir, step);
  const detail::RegionRecord* r = &reader.global_region(region);
  const Shape& shape = r->global_shape;
  const std::uint64_t rows = shape.rank() == 0 ? 1 : shape[0];
  const std::uint64_t row_bytes = rows == 0 ? 0 : shape.byte_count(r->dtype) / rows;
  if (options.progress != nullptr) options.progress->add_total(shape.byte_count(r->dtype));
  // The whole rows covering the slab write_dataset asks for (a slab is at most
  // options.slab_bytes, or a part of one row when a row is larger): memory stays at one slab or
  // one row, whatever the region's size.
  std::vector<std::byte> rows_read;
  std::uint64_t rows_read_offset = 0;
  add_dataset(h5_file, dataset_path, r->dtype, shape, options,
              [&](std::uint64_t offset, std::size_t n) -> std::span<const std::byte> {
                if (n == 0 || row_bytes == 0) return {};
                if (offset < rows_read_offset || offset + n > rows_read_offset + rows_read.size()) {
                  const std::uint64_t first = offset / row_bytes;
                  const std::uint64_t last = (offset + n + row_bytes - 1) / row_bytes;
                  rows_read.clear();
                  rows_read.shrink_to_fit();
                  rows_read.resize((last - first) * row_bytes);
                  reader.read_rows(*r, first, last - first, rows_read);
                  rows_read_offset = first * row_bytes;
                }
                return std::span<const std::byte>(rows_read).subspan(offset - rows_read_offset, n);
              });
}

bool is_strata_hdf5_export(const std::string& h5_file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(h5_file, ec)) return false;  // no FIFO is opened
  Hdf5Call call;
  if (H5Fis_hdf5(h5_file.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  Hdf5Handle file(H5Fopen(h5_file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  const bool marked = file && H5Aexists_by_name(file.get(), "/", kExportMarker, H5P_DEFAULT) > 0;
  H5Eclear2(H5E_DEFAULT);
  return marked;
}

void export_strata(const std::string& strata_path, const std::string& h5_file,
                   const Hdf5ExportOptions& options) {
  check_options(options);
  const std::vector<ErrorContext> context{{"file", h5_file}, {"source", strata_path}};
  const StrataFile source = StrataFile::open(strata_path);
  std::error_code ec;
  if (std::filesystem::equivalent(strata_path, h5_file, ec)) {
    throw Error(ErrorCategory::invalid_argument,
                "the HDF5 file to write is the .strata file being exported", context);
  }
  if (!options.overwrite && std::filesystem::exists(h5_file, ec)) {
    throw Error(ErrorCategory::invalid_argument,
                "HDF5 file exists; remove it or ask to overwrite it", context);
  }
  if (options.progress != nullptr) {
    for (const ArrayInfo& array : source.arrays()) options.progress->add_total(array.data_bytes);
  }
  Hdf5Call call;
  // Created exclusively beside the target (no planted symlink can redirect it); HDF5 opens it
  // through the descriptor, so swapping the folder entry afterwards cannot redirect it either.
  detail::TemporaryFile temp = detail::TemporaryFile::beside(h5_file);
  Hdf5Handle file(
      H5Fcreate(temp.descriptor_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file) throw_hdf5_error(ErrorCategory::io, "cannot create the HDF5 file", context);

  for (const ArrayInfo& array : source.arrays()) {
    // bytes() verifies the chunks it covers, so a corrupt source stops the export here.
    write_dataset(
        file.get(), "/" + array.name, array.dtype, array.shape, options, context,
        [&](std::uint64_t offset, std::size_t n) { return source.bytes(array, offset, n); });
  }
  Hdf5Handle root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
  if (!root) throw_hdf5_error(ErrorCategory::io, "cannot open the root group", context);
  bool marked = false;
  for (const auto& [key, value] : source.metadata()) {
    write_attribute(root.get(), key, value, context);
    marked = marked || key == kExportMarker;
  }
  if (!marked) write_attribute(root.get(), kExportMarker, strata_path, context);
  root.reset();
  close_written(file, context);
  temp.publish(h5_file, context);
}

}  // namespace strata::io
