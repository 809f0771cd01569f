// SPDX-License-Identifier: Apache-2.0
// Hdf5Dataset: opening an HDF5 dataset with every check that makes a bad path or type a clear
// error, and reading it by hyperslab — any block, a range of rows, or this rank's partition as
// one collective MPI-IO transfer under parallel HDF5.
#include <hdf5.h>
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "hdf5/hdf5_call.hpp"
#include "hdf5/hdf5_handle.hpp"
#include "hdf5/hdf5_links.hpp"
#include "hdf5/hdf5_types.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/regular_file.hpp"
#include "strata/runtime/machine/memory_availability.hpp"

namespace strata::io {

using detail::Hdf5Call;
using detail::Hdf5Handle;
using detail::throw_hdf5_error;

struct Hdf5Dataset::Impl {
  Hdf5Path path;
  DType dtype = DType::u8;
  Shape shape;
  Hdf5Storage storage;
  bool collective = false;
  int rank = 0;
  int size = 1;
  Hdf5Handle file;
  Hdf5Handle dataset;

  std::vector<ErrorContext> context() const {
    return {{"file", path.file}, {"dataset", path.dataset}};
  }

  ~Impl() {
    // Closing touches HDF5's global state, so it takes the lock too; under MPI-IO it is collective.
    Hdf5Call call;
    dataset.reset();
    file.reset();
  }
};

namespace {

// True on every rank when `ok` is true on every rank of MPI_COMM_WORLD, so ranks about to enter
// a collective HDF5 call either all enter it or all throw.
bool all_ranks_ok(bool ok) {
  int mine = ok ? 1 : 0;
  int all = 0;
  if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD) != MPI_SUCCESS) {
    throw Error(ErrorCategory::distributed, "MPI_Allreduce failed while agreeing on an HDF5 call");
  }
  return all != 0;
}

// The dataset's type, layout and filters. Refuses a dataset whose chunks need a filter this HDF5
// library cannot load (a compression plugin missing from HDF5_PLUGIN_PATH) before anything is
// read, naming the filter: HDF5's own report names only the plugin folder it searched.
Hdf5Storage describe_storage(hid_t dataset, hid_t type, const std::vector<ErrorContext>& context) {
  Hdf5Storage storage;
  storage.hdf5_type = detail::describe_hdf5_type(type);
  Hdf5Handle dcpl(H5Dget_create_plist(dataset), H5Pclose);
  if (!dcpl) return storage;
  switch (H5Pget_layout(dcpl.get())) {
    case H5D_COMPACT:
      storage.layout = "compact";
      break;
    case H5D_CONTIGUOUS:
      storage.layout = "contiguous";
      break;
    case H5D_CHUNKED: {
      storage.layout = "chunked";
      hsize_t chunk[H5S_MAX_RANK];
      const int rank = H5Pget_chunk(dcpl.get(), H5S_MAX_RANK, chunk);
      for (int d = 0; d < rank; ++d) storage.chunk.push_back(chunk[d]);
      break;
    }
    case H5D_VIRTUAL:
      storage.layout = "virtual";
      break;
    default:
      storage.layout = "unknown";
      break;
  }
  const int filters = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0;
    unsigned config = 0;
    std::size_t values = 0;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &values,
                                           nullptr, sizeof name, name, &config);
    storage.filters.push_back(name[0] != '\0' ? std::string(name) : "filter " + std::to_string(id));
    if ((flags & H5Z_FLAG_OPTIONAL) != 0 || H5Zfilter_avail(id) > 0) continue;
    std::vector<ErrorContext> c = context;
    c.push_back({"filter", (name[0] != '\0' ? std::string(name) + " " : std::string()) + "(id " +
                               std::to_string(id) + ")"});
    throw Error(ErrorCategory::unsupported,
                "HDF5 dataset needs a filter this HDF5 library does not have (a plugin in "
                "HDF5_PLUGIN_PATH can provide it)",
                c);
  }
  return storage;
}

// A string HDF5 hands out through a (buffer, size) call returning the length it needs.
template <class Get>
std::string hdf5_string(Get&& get) {
  const auto length = get(nullptr, 0);
  if (length <= 0) return {};
  std::string out(static_cast<std::size_t>(length) + 1, '\0');
  get(out.data(), out.size());
  out.resize(static_cast<std::size_t>(length));
  return out;
}

// `prefix` with HDF5's "${ORIGIN}" (the HDF5 file's folder) expanded.
std::filesystem::path expand_origin(const std::string& prefix, const Hdf5Path& path) {
  static constexpr std::string_view kOrigin = "${ORIGIN}";
  if (prefix.compare(0, kOrigin.size(), kOrigin) != 0) return prefix;
  std::error_code ec;
  const std::filesystem::path folder =
      std::filesystem::absolute(path.file, ec).parent_path().lexically_normal();
  return (folder.string() + prefix.substr(kOrigin.size()));
}

std::string absolute_string(const std::filesystem::path& p) {
  std::error_code ec;
  const std::filesystem::path a = std::filesystem::absolute(p, ec);
  return (ec ? p : a).lexically_normal().string();
}

// The raw-data files of a dataset with external storage, resolved as HDF5 resolves them: an
// absolute name as it is, a relative one under HDF5_EXTFILE_PREFIX, else the access list's
// prefix, else the working directory.
std::vector<std::string> external_storage_files(hid_t dataset, hid_t dcpl, const Hdf5Path& path) {
  std::vector<std::string> files;
  const int count = H5Pget_external_count(dcpl);
  if (count <= 0) return files;
  std::string prefix;
  if (const char* env = std::getenv("HDF5_EXTFILE_PREFIX"); env != nullptr && *env != '\0') {
    prefix = env;
  } else if (Hdf5Handle dapl(H5Dget_access_plist(dataset), H5Pclose); dapl) {
    prefix = hdf5_string(
        [&](char* out, std::size_t size) { return H5Pget_efile_prefix(dapl.get(), out, size); });
  }
  for (int i = 0; i < count; ++i) {
    char name[4096] = {};
    off_t offset = 0;
    hsize_t bytes = 0;
    H5Pget_external(dcpl, static_cast<unsigned>(i), sizeof name - 1, name, &offset, &bytes);
    const std::filesystem::path file(name);
    files.push_back(absolute_string(
        file.is_absolute() || prefix.empty() ? file : expand_origin(prefix, path) / file));
  }
  return files;
}

// True when `dataset` names a dataset in the open file `file`.
bool dataset_exists(hid_t file, const std::string& dataset) {
  if (detail::object_path_problem(dataset) != nullptr) return false;
  if (detail::walk_links(file, dataset).status != detail::LinkWalk::Status::exists) return false;
  H5O_info_t info{};
  return H5Oget_info_by_name(file, dataset.c_str(), &info, H5P_DEFAULT) >= 0 &&
         info.type == H5O_TYPE_DATASET;
}

// The source files of a virtual dataset other than its own file, found as HDF5 finds them
// (the name as given, then beside the virtual dataset's file). Throws when a source file or a
// source dataset is missing: HDF5 would fill those elements with the fill value without a word.
std::vector<std::string> virtual_source_files(hid_t file, hid_t dcpl, const Hdf5Path& path,
                                              const std::vector<ErrorContext>& context) {
  std::vector<std::string> files;
  std::size_t count = 0;
  if (H5Pget_virtual_count(dcpl, &count) < 0) {
    throw_hdf5_error(ErrorCategory::io, "cannot read the virtual dataset's mappings", context);
  }
  std::error_code ec;
  const std::filesystem::path folder =
      std::filesystem::absolute(path.file, ec).parent_path().lexically_normal();
  for (std::size_t i = 0; i < count; ++i) {
    const std::string name = hdf5_string(
        [&](char* out, std::size_t size) { return H5Pget_virtual_filename(dcpl, i, out, size); });
    const std::string source = hdf5_string(
        [&](char* out, std::size_t size) { return H5Pget_virtual_dsetname(dcpl, i, out, size); });
    std::vector<ErrorContext> c = context;
    c.push_back({"source", name + ":" + source});
    const auto missing = [&] {
      return Error(ErrorCategory::invalid_argument,
                   "HDF5 virtual dataset's source is missing (HDF5 would read fill values in its "
                   "place)",
                   c);
    };
    if (name == ".") {
      if (!dataset_exists(file, source)) throw missing();
      continue;
    }
    const std::filesystem::path given(name);
    std::string found;
    for (const std::filesystem::path& candidate :
         {given, folder / (given.is_absolute() ? given.filename() : given)}) {
      if (std::filesystem::is_regular_file(candidate, ec)) {
        found = absolute_string(candidate);
        break;
      }
    }
    if (found.empty() || H5Fis_hdf5(found.c_str()) <= 0) throw missing();
    Hdf5Handle source_file(H5Fopen(found.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!source_file || !dataset_exists(source_file.get(), source)) throw missing();
    H5Eclear2(H5E_DEFAULT);
    if (std::find(files.begin(), files.end(), found) == files.end()) files.push_back(found);
  }
  return files;
}

// Refuses what makes HDF5 read files the user never named unless the caller allowed it, and
// virtual datasets with missing sources always; returns the other files the data comes from.
std::vector<std::string> check_external_data(hid_t file, hid_t dataset, const Hdf5Path& path,
                                             const Hdf5OpenOptions& options,
                                             const std::vector<ErrorContext>& context) {
  Hdf5Handle dcpl(H5Dget_create_plist(dataset), H5Pclose);
  if (!dcpl) throw_hdf5_error(ErrorCategory::io, "cannot read the dataset's storage", context);
  const bool is_virtual = H5Pget_layout(dcpl.get()) == H5D_VIRTUAL;
  std::vector<std::string> files = is_virtual
                                       ? virtual_source_files(file, dcpl.get(), path, context)
                                       : external_storage_files(dataset, dcpl.get(), path);
  if (!files.empty() && !options.allow_external) {
    std::vector<ErrorContext> c = context;
    std::string list;
    for (const auto& f : files) list += (list.empty() ? "" : ", ") + f;
    c.push_back({"external_files", list});
    throw Error(ErrorCategory::invalid_argument,
                std::string(is_virtual ? "HDF5 virtual dataset maps data from other files"
                                       : "HDF5 dataset keeps its data in other files (external "
                                         "storage)") +
                    "; strata reads them only when asked (allow_external, --allow-external)",
                c);
  }
  return files;
}

// Which rank and size the dataset belongs to, and whether to open it through MPI-IO.
struct Group {
  int rank = 0;
  int size = 1;
  bool mpio = false;
};

Group collective_group(const std::vector<ErrorContext>& context) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized != 0) {
    throw Error(ErrorCategory::distributed,
                "MPI has been finalized; open HDF5 datasets collectively while MPI is running",
                context);
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  Group group;
  if (initialized == 0) return group;
  MPI_Comm_rank(MPI_COMM_WORLD, &group.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &group.size);
  group.mpio = group.size > 1;
  return group;
}

// The checks that need no HDF5 file handle; returns an Error to throw, if any, so collective
// callers can agree before throwing.
std::optional<Error> check_file(const Hdf5Path& path, const std::vector<ErrorContext>& context) {
  std::error_code ec;
  const auto status = std::filesystem::status(path.file, ec);
  if (!std::filesystem::exists(status)) {
    return Error(ErrorCategory::io, "no such HDF5 file", context);
  }
  if (std::filesystem::is_directory(status)) {
    return Error(ErrorCategory::io, "is a directory, not an HDF5 file", context);
  }
  try {
    check_regular_file(path.file);  // a FIFO would hang H5Fis_hdf5's open
  } catch (const Error& e) {
    return e;
  }
  const htri_t is_hdf5 = H5Fis_hdf5(path.file.c_str());
  if (is_hdf5 == 0) return Error(ErrorCategory::invalid_argument, "not an HDF5 file", context);
  if (is_hdf5 < 0) {
    std::vector<ErrorContext> with_detail = context;
    with_detail.push_back({"hdf5", detail::hdf5_error_detail()});
    return Error(ErrorCategory::io, "cannot read the HDF5 file", with_detail);
  }
  return std::nullopt;
}

std::unique_ptr<Hdf5Dataset::Impl> open_impl(const Hdf5Path& path, bool want_collective,
                                             const Hdf5OpenOptions& options) {
  Hdf5Call call;
  auto impl = std::make_unique<Hdf5Dataset::Impl>();
  impl->path = path;
  const std::vector<ErrorContext> context = impl->context();

  const Group group = want_collective ? collective_group(context) : Group{};
  impl->rank = group.rank;
  impl->size = group.size;
  impl->collective = group.mpio;

  std::optional<Error> problem = check_file(path, context);
  if (group.mpio && !all_ranks_ok(!problem.has_value()) && !problem) {
    problem = Error(ErrorCategory::io, "another rank could not open the HDF5 file", context);
  }
  if (problem) throw *problem;

  Hdf5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl) throw_hdf5_error(ErrorCategory::system, "H5Pcreate failed", context);
  if (group.mpio && H5Pset_fapl_mpio(fapl.get(), MPI_COMM_WORLD, MPI_INFO_NULL) < 0) {
    throw_hdf5_error(ErrorCategory::system, "cannot select the MPI-IO driver", context);
  }
  impl->file = Hdf5Handle(H5Fopen(path.file.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!impl->file) throw_hdf5_error(ErrorCategory::io, "cannot open the HDF5 file", context);

  // Every rank sees the same file, so every rank takes the same branch below and throws alike.
  const detail::LinkWalk walk = detail::walk_links(impl->file.get(), path.dataset);
  if (walk.status == detail::LinkWalk::Status::missing) {
    std::vector<ErrorContext> c = context;
    if (walk.at != path.dataset) c.push_back({"missing", walk.at});
    throw Error(ErrorCategory::invalid_argument, "no such dataset in the HDF5 file", c);
  }
  if (walk.status == detail::LinkWalk::Status::not_a_group) {
    std::vector<ErrorContext> c = context;
    c.push_back({"not_a_group", walk.at});
    throw Error(ErrorCategory::invalid_argument,
                "no such dataset in the HDF5 file: a component of the path is not a group", c);
  }
  {
    Hdf5Handle object(H5Oopen(impl->file.get(), path.dataset.c_str(), H5P_DEFAULT), H5Oclose);
    if (!object) {
      throw_hdf5_error(ErrorCategory::invalid_argument,
                       "cannot open the HDF5 object (a dangling link?)", context);
    }
    if (H5Iget_type(object.get()) != H5I_DATASET) {
      throw Error(ErrorCategory::invalid_argument, "is a group or named type, not a dataset",
                  context);
    }
  }
  impl->dataset =
      Hdf5Handle(H5Dopen2(impl->file.get(), path.dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!impl->dataset) throw_hdf5_error(ErrorCategory::io, "cannot open the dataset", context);

  Hdf5Handle type(H5Dget_type(impl->dataset.get()), H5Tclose);
  if (!type) throw_hdf5_error(ErrorCategory::io, "cannot read the dataset's type", context);
  const std::optional<DType> dtype = detail::dtype_from_hdf5(type.get());
  if (!dtype) {
    std::vector<ErrorContext> c = context;
    c.push_back({"type", detail::describe_hdf5_type(type.get())});
    throw Error(ErrorCategory::invalid_argument,
                "HDF5 dataset is not numeric; strata reads integers of 1, 2, 4 or 8 bytes and "
                "floats of 4 or 8 bytes",
                c);
  }
  impl->dtype = *dtype;

  Hdf5Handle space(H5Dget_space(impl->dataset.get()), H5Sclose);
  if (!space) throw_hdf5_error(ErrorCategory::io, "cannot read the dataset's shape", context);
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  if (space_class == H5S_SCALAR || space_class == H5S_NULL) {
    throw Error(ErrorCategory::invalid_argument,
                std::string("HDF5 dataset is ") +
                    (space_class == H5S_SCALAR ? "a scalar" : "empty (null dataspace)") +
                    "; strata arrays have 1 to 8 dimensions",
                context);
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw_hdf5_error(ErrorCategory::io, "cannot read the dataset's rank", context);
  if (static_cast<std::size_t>(rank) > Shape::kMaxRank) {
    std::vector<ErrorContext> c = context;
    c.push_back({"rank", std::to_string(rank)});
    throw Error(ErrorCategory::invalid_argument,
                "HDF5 dataset has more dimensions than strata arrays (at most 8)", c);
  }
  hsize_t dims[H5S_MAX_RANK];
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  try {
    impl->shape = Shape(dims, dims + rank);
    (void)impl->shape.byte_count(impl->dtype);
  } catch (const Error& e) {
    std::vector<ErrorContext> c = context;
    c.insert(c.end(), e.context().begin(), e.context().end());
    throw Error(ErrorCategory::invalid_argument, "HDF5 dataset's size overflows: " + e.message(),
                c);
  }
  impl->storage = describe_storage(impl->dataset.get(), type.get(), context);
  impl->storage.external_files =
      check_external_data(impl->file.get(), impl->dataset.get(), path, options, context);
  return impl;
}

// Selects [start, start + count) in a fresh copy of the dataset's dataspace, or nothing when
// the block is empty (a rank with no rows still takes part in a collective read).
Hdf5Handle select_block(const Hdf5Dataset::Impl& impl, std::span<const hsize_t> start,
                        std::span<const hsize_t> count, bool empty) {
  Hdf5Handle space(H5Dget_space(impl.dataset.get()), H5Sclose);
  if (!space)
    throw_hdf5_error(ErrorCategory::io, "cannot read the dataset's shape", impl.context());
  const herr_t status = empty ? H5Sselect_none(space.get())
                              : H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(),
                                                    nullptr, count.data(), nullptr);
  if (status < 0) throw_hdf5_error(ErrorCategory::io, "cannot select a hyperslab", impl.context());
  return space;
}

// Reads the block into `out` through `dxpl` (H5P_DEFAULT: independent). Arguments are checked.
void read_selected(const Hdf5Dataset::Impl& impl, std::span<const hsize_t> start,
                   std::span<const hsize_t> count, std::span<std::byte> out, hid_t dxpl) {
  bool empty = false;
  std::vector<hsize_t> memory_dims(count.begin(), count.end());
  for (hsize_t& d : memory_dims) {
    if (d == 0) {
      empty = true;
      d = 1;  // a memory space needs a positive extent; nothing in it is selected
    }
  }
  Hdf5Handle file_space = select_block(impl, start, count, empty);
  Hdf5Handle memory_space(
      H5Screate_simple(static_cast<int>(memory_dims.size()), memory_dims.data(), nullptr),
      H5Sclose);
  if (!memory_space || (empty && H5Sselect_none(memory_space.get()) < 0)) {
    throw_hdf5_error(ErrorCategory::system, "cannot create a memory dataspace", impl.context());
  }
  if (H5Dread(impl.dataset.get(), detail::native_hdf5_type(impl.dtype), memory_space.get(),
              file_space.get(), dxpl, out.data()) < 0) {
    throw_hdf5_error(ErrorCategory::io, "cannot read the HDF5 dataset", impl.context());
  }
}

// Checks a block against the shape and `out` against the block; returns the block as hsize_t.
std::pair<std::vector<hsize_t>, std::vector<hsize_t>> checked_block(
    const Hdf5Dataset::Impl& impl, std::span<const std::uint64_t> start,
    std::span<const std::uint64_t> count, std::size_t out_bytes) {
  const std::size_t rank = impl.shape.rank();
  std::vector<ErrorContext> c = impl.context();
  if (start.size() != rank || count.size() != rank) {
    c.push_back({"rank", std::to_string(rank)});
    throw Error(ErrorCategory::invalid_argument,
                "block needs one start and one count per dimension of the dataset", c);
  }
  std::uint64_t elements = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    // Written so that start + count cannot wrap around.
    if (start[d] > impl.shape[d] || count[d] > impl.shape[d] - start[d]) {
      c.push_back({"dimension", std::to_string(d)});
      c.push_back({"shape", impl.shape.to_string()});
      throw Error(ErrorCategory::invalid_argument, "block lies outside the dataset", c);
    }
    elements *= count[d];  // bounded by the dataset's element count, which fits
  }
  const std::uint64_t bytes = elements * dtype_bytes(impl.dtype);
  if (out_bytes != bytes) {
    c.push_back({"expected_bytes", std::to_string(bytes)});
    c.push_back({"buffer_bytes", std::to_string(out_bytes)});
    throw Error(ErrorCategory::invalid_argument, "buffer size does not match the block", c);
  }
  return {std::vector<hsize_t>(start.begin(), start.end()),
          std::vector<hsize_t>(count.begin(), count.end())};
}

}  // namespace

Hdf5Dataset::Hdf5Dataset(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hdf5Dataset::Hdf5Dataset(Hdf5Dataset&&) noexcept = default;
Hdf5Dataset& Hdf5Dataset::operator=(Hdf5Dataset&&) noexcept = default;
Hdf5Dataset::~Hdf5Dataset() = default;

Hdf5Dataset Hdf5Dataset::open(const Hdf5Path& path, const Hdf5OpenOptions& options) {
  return Hdf5Dataset(open_impl(path, false, options));
}

Hdf5Dataset Hdf5Dataset::open(std::string_view path_spec, const Hdf5OpenOptions& options) {
  return open(Hdf5Path::parse(path_spec), options);
}

Hdf5Dataset Hdf5Dataset::open_collective(const Hdf5Path& path, const Hdf5OpenOptions& options) {
  return Hdf5Dataset(open_impl(path, true, options));
}

const Hdf5Path& Hdf5Dataset::path() const noexcept { return impl_->path; }
DType Hdf5Dataset::dtype() const noexcept { return impl_->dtype; }
const Shape& Hdf5Dataset::shape() const noexcept { return impl_->shape; }
const Hdf5Storage& Hdf5Dataset::storage() const noexcept { return impl_->storage; }
bool Hdf5Dataset::collective() const noexcept { return impl_->collective; }
int Hdf5Dataset::rank() const noexcept { return impl_->rank; }
int Hdf5Dataset::size() const noexcept { return impl_->size; }

void Hdf5Dataset::read_block(std::span<const std::uint64_t> start,
                             std::span<const std::uint64_t> count, std::span<std::byte> out) const {
  Hdf5Call call;
  const auto [first, extent] = checked_block(*impl_, start, count, out.size());
  if (out.empty()) return;  // an empty block; independent reads need not take part in anything
  read_selected(*impl_, first, extent, out, H5P_DEFAULT);
}

void Hdf5Dataset::read_rows(std::uint64_t first_row, std::uint64_t rows,
                            std::span<std::byte> out) const {
  std::vector<std::uint64_t> start(shape().rank(), 0);
  std::vector<std::uint64_t> count(shape().begin(), shape().end());
  start[0] = first_row;
  count[0] = rows;
  read_block(start, count, out);
}

std::vector<std::byte> Hdf5Dataset::read_rows(std::uint64_t first_row, std::uint64_t rows,
                                              Progress* progress) const {
  const std::uint64_t bytes = rows <= this->rows() ? rows * row_bytes() : 0;  // fits: shape's bytes
  const MemoryAvailability memory = read_memory_availability();
  const std::uint64_t available = memory.available_bytes();
  if (memory.mem_total_bytes > 0 && bytes > available) {  // 0: /proc/meminfo unreadable
    std::vector<ErrorContext> c = impl_->context();
    c.push_back({"bytes_needed", std::to_string(bytes)});
    c.push_back({"bytes_available", std::to_string(available)});
    throw Error(ErrorCategory::resource,
                "the HDF5 rows to read do not fit in the memory available: read fewer rows "
                "(more ranks) or import the dataset into a .strata file first",
                std::move(c));
  }
  std::vector<std::byte> out(static_cast<std::size_t>(bytes));
  if (progress == nullptr || bytes == 0) {
    read_rows(first_row, rows, out);
    return out;
  }
  // Slabs of whole rows, so a long read (a compressed dataset) shows how far it got.
  progress->add_total(bytes);
  constexpr std::uint64_t kSlabBytes = std::uint64_t{64} << 20;
  const std::uint64_t slab_rows = std::max<std::uint64_t>(1, kSlabBytes / row_bytes());
  for (std::uint64_t done = 0; done < rows; done += slab_rows) {
    const std::uint64_t n = std::min(slab_rows, rows - done);
    read_rows(first_row + done, n, std::span(out).subspan(done * row_bytes(), n * row_bytes()));
    progress->add(n * row_bytes());
  }
  return out;
}

RowRange Hdf5Dataset::partition() const { return partition_rows(rows(), rank(), size()); }

RowRange Hdf5Dataset::read_partition(std::span<std::byte> out, bool* collective_transfer) const {
  Hdf5Call call;
  const RowRange mine = partition();
  if (collective_transfer != nullptr) *collective_transfer = false;
  std::vector<std::uint64_t> start(shape().rank(), 0);
  std::vector<std::uint64_t> count(shape().begin(), shape().end());
  start[0] = mine.first;
  count[0] = mine.count;

  std::optional<Error> problem;
  std::vector<hsize_t> first;
  std::vector<hsize_t> extent;
  try {
    std::tie(first, extent) = checked_block(*impl_, start, count, out.size());
  } catch (const Error& e) {
    problem = e;
  }
  if (!impl_->collective) {
    if (problem) throw *problem;
    if (!out.empty()) read_selected(*impl_, first, extent, out, H5P_DEFAULT);
    return mine;
  }
  if (!all_ranks_ok(!problem.has_value())) {
    if (problem) throw *problem;
    throw Error(ErrorCategory::invalid_argument,
                "another rank passed a buffer of the wrong size to read_partition",
                impl_->context());
  }
  Hdf5Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  if (!dxpl || H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE) < 0) {
    throw_hdf5_error(ErrorCategory::system, "cannot request a collective transfer",
                     impl_->context());
  }
  read_selected(*impl_, first, extent, out, dxpl.get());
  if (collective_transfer != nullptr) {
    H5D_mpio_actual_io_mode_t mode = H5D_MPIO_NO_COLLECTIVE;
    H5Pget_mpio_actual_io_mode(dxpl.get(), &mode);
    *collective_transfer = mode != H5D_MPIO_NO_COLLECTIVE;
  }
  return mine;
}

}  // namespace strata::io
