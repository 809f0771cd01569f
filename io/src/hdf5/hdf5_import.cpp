// SPDX-License-Identifier: Apache-2.0
// import_hdf5: copies one numeric HDF5 dataset into a new `.strata` file through a bounded buffer
// (hyperslab reads appended to a StrataWriter in row-major order), recording where it came from.
#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hdf5/hdf5_slabs.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io {
namespace {

// Below this a slab is mostly per-call overhead, and it must hold at least one element.
constexpr std::size_t kMinSlabBytes = 4096;

template <class List>
std::string join(const List& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

Metadata provenance(const Hdf5Dataset& dataset) {
  const Hdf5Storage& storage = dataset.storage();
  std::string layout = storage.layout;
  if (!storage.chunk.empty()) {
    std::vector<std::string> extents;
    for (std::uint64_t c : storage.chunk) extents.push_back(std::to_string(c));
    layout += " [" + join(extents, ", ") + "]";
  }
  std::error_code ec;
  std::filesystem::path file = std::filesystem::absolute(dataset.path().file, ec);
  Metadata m{{"source.format", "hdf5"},
             {"source.file", ec ? dataset.path().file : file.lexically_normal().string()},
             {"source.dataset", dataset.path().dataset},
             {"source.hdf5_type", storage.hdf5_type},
             {"source.layout", layout},
             {"source.filters", storage.filters.empty() ? "none" : join(storage.filters, ", ")}};
  if (!storage.external_files.empty()) {
    m.emplace_back("source.external_files", join(storage.external_files, "\n"));
  }
  return m;
}

}  // namespace

Hdf5ImportResult import_hdf5(const Hdf5Path& source, const std::string& strata_path,
                             const Hdf5ImportOptions& options) {
  if (options.slab_bytes < kMinSlabBytes) {
    throw Error(ErrorCategory::invalid_argument, "import slab must be at least 4096 bytes",
                {{"slab_bytes", std::to_string(options.slab_bytes)}});
  }
  std::error_code ec;
  if (std::filesystem::equivalent(source.file, strata_path, ec)) {
    throw Error(ErrorCategory::invalid_argument,
                "the .strata file to write is the HDF5 file being imported",
                {{"file", source.file}, {"dataset", source.dataset}, {"output", strata_path}});
  }
  const Hdf5Dataset dataset = Hdf5Dataset::open(source, {.allow_external = options.allow_external});

  Hdf5ImportResult result;
  result.array_name = options.array_name.empty() ? source.leaf() : options.array_name;
  result.dtype = dataset.dtype();
  result.shape = dataset.shape();
  result.data_bytes = dataset.shape().byte_count(dataset.dtype());

  Metadata metadata = provenance(dataset);
  metadata.insert(metadata.end(), options.metadata.begin(), options.metadata.end());
  StrataWriter writer(strata_path,
                      {{result.array_name, result.dtype, result.shape, options.chunk_bytes}},
                      std::move(metadata), "strata hdf5 import");

  const std::vector<hsize_t> extents(result.shape.begin(), result.shape.end());
  const std::vector<hsize_t> chunk(dataset.storage().chunk.begin(), dataset.storage().chunk.end());
  const detail::SlabPlan plan(extents, dtype_bytes(result.dtype), options.slab_bytes, chunk);
  if (options.progress != nullptr) options.progress->add_total(result.data_bytes);
  // Not value-initialised: every byte is overwritten by the read before it is appended.
  const auto buffer = std::make_unique_for_overwrite<std::byte[]>(plan.largest_slab_bytes());
  plan.for_each(
      [&](std::span<const hsize_t> start, std::span<const hsize_t> count, std::size_t bytes) {
        std::array<std::uint64_t, Shape::kMaxRank> first{};
        std::array<std::uint64_t, Shape::kMaxRank> extent{};
        std::copy(start.begin(), start.end(), first.begin());
        std::copy(count.begin(), count.end(), extent.begin());
        const std::span<std::byte> slab(buffer.get(), bytes);
        dataset.read_block(std::span(first.data(), start.size()),
                           std::span(extent.data(), count.size()), slab);
        writer.append(0, slab);
        if (options.progress != nullptr) options.progress->add(bytes);
        ++result.slabs;
        result.largest_slab_bytes = std::max<std::uint64_t>(result.largest_slab_bytes, bytes);
      });
  writer.finish();
  return result;
}

}  // namespace strata::io
