// SPDX-License-Identifier: Apache-2.0
// Datasets for Python. A partition's values are the mapped file itself (a .strata file) or the
// rows the partition read (HDF5), handed to NumPy without a copy: the array's base owns a copy of
// the Partition, whose shared state keeps the mapping alive after the Dataset and Partition
// objects are gone or the Dataset is closed. Every checksum chunk the view covers is verified
// first, in parallel on the executor, as a reduction over the partition would.
#include "dataset_binding.hpp"

#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "session.hpp"
#include "strata/io/dataset/dataset_memory.hpp"
#include "strata/io/dataset/partition.hpp"
#include "strata/io/dataset/partition_source.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/scheduler/dtype_dispatch.hpp"

namespace py = pybind11;

namespace strata::python {
namespace {

// Reads nothing: a reduction with it only makes each executor chunk verify its checksum chunks.
template <class T>
struct VerifyOnly {
  void add(std::span<const T>) noexcept {}
  void merge(const VerifyOnly&) noexcept {}
};

py::tuple shape_tuple(const Shape& shape) {
  py::tuple t(shape.rank());
  for (std::size_t i = 0; i < shape.rank(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

// `bytes` (the partition's values) as a read-only C-contiguous array of its shape whose base,
// `base`, keeps them alive.
py::array read_only_array(const io::Partition& partition, std::span<const std::byte> bytes,
                          py::capsule base) {
  std::vector<py::ssize_t> shape(partition.shape().begin(), partition.shape().end());
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = static_cast<py::ssize_t>(dtype_bytes(partition.dtype()));
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  py::array values(numpy_dtype(partition.dtype()), shape, strides,
                   const_cast<std::byte*>(bytes.data()), base);
  py::detail::array_proxy(values.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return values;
}

// The partition's values as a read-only C-contiguous array of its shape, after a parallel pass
// that verifies every checksum chunk it covers (with the GIL released).
py::array view_of(const io::Partition& partition) {
  {
    Executor& ex = current_session()->executor();
    py::gil_scoped_release release;
    visit_dtype(partition.dtype(),
                      [&]<class T>(T) { strata::reduce<T>(ex, partition, VerifyOnly<T>{}); });
  }
  const std::span<const std::byte> bytes = partition.bytes();  // verified: no second pass
  auto* owner = new io::Partition(partition);
  return read_only_array(partition, bytes, py::capsule(owner, [](void* p) {
                           delete static_cast<io::Partition*>(p);
                         }));
}

// The values where `memory` says: "mapped" (or "auto", what a single view needs) is view_of;
// "resident" and "node-shared" load the rows with io::load (collective over the runtime's ranks)
// into placed huge-page memory or the node's shared segment, verified on the way in, and the
// array's base owns that memory. HDF5 rows stay where the partition read them.
py::array values_in(const io::Partition& partition, const std::string& memory) {
  const io::DataMemory mode = io::parse_data_memory(memory);
  if (mode == io::DataMemory::mapped || mode == io::DataMemory::automatic) {
    return view_of(partition);
  }
  Session& session = *current_session();
  std::unique_ptr<io::PartitionData> data;
  {
    py::gil_scoped_release release;
    data = std::make_unique<io::PartitionData>(
        io::load(session.runtime(), session.executor(), partition, {.memory = mode}));
  }
  const std::span<const std::byte> bytes = data->loaded();
  if (bytes.size() != partition.size_bytes()) return view_of(partition);  // HDF5: already read
  auto* owner = data.release();
  return read_only_array(partition, bytes, py::capsule(owner, [](void* p) {
                           delete static_cast<io::PartitionData*>(p);
                         }));
}

// strata.Dataset: close() drops the handle; partitions and arrays taken before stay valid.
class DatasetHandle {
 public:
  explicit DatasetHandle(io::Dataset dataset) : dataset_(std::move(dataset)) {}

  const io::Dataset& get() const {
    if (!dataset_) {
      throw Error(ErrorCategory::invalid_argument, "operation on a closed strata.Dataset",
                  {{"file", file_}});
    }
    return *dataset_;
  }
  void close() noexcept {
    if (dataset_) file_ = dataset_->file() + ":" + dataset_->name();
    dataset_.reset();
  }
  bool closed() const noexcept { return !dataset_; }

 private:
  std::optional<io::Dataset> dataset_;
  std::string file_;  // what it was, for the error after close()
};

std::string describe(const io::Dataset& ds) {
  return "strata.Dataset('" + ds.file() + ":" + ds.name() +
         "', dtype=" + std::string(to_string(ds.dtype())) + ", shape=" + ds.shape().to_string() +
         ")";
}

}  // namespace

py::dtype numpy_dtype(DType dtype) {
  py::dtype result;
  visit_dtype(dtype, [&]<class T>(T) { result = py::dtype::of<T>(); });
  return result;
}

void bind_datasets(py::module_& m) {
  py::class_<PartitionHandle>(m, "Partition",
                              "One rank's rows of a dataset (Dataset.partition). Pass it to the "
                              "kernels, or take its values as a NumPy array.")
      .def_property_readonly(
          "rows",
          [](const PartitionHandle& p) {
            return py::make_tuple(p.partition.rows().first, p.partition.rows().count);
          },
          "(first, count): the dataset rows this partition holds.")
      .def_property_readonly(
          "dtype", [](const PartitionHandle& p) { return numpy_dtype(p.partition.dtype()); },
          "The element type as a numpy.dtype.")
      .def_property_readonly(
          "shape", [](const PartitionHandle& p) { return shape_tuple(p.partition.shape()); },
          "The partition's shape: its rows by the dataset's other extents.")
      .def_property_readonly(
          "nbytes", [](const PartitionHandle& p) { return p.partition.size_bytes(); },
          "Bytes of the partition's values.")
      .def_property_readonly(
          "checksum_chunk_bytes",
          [](const PartitionHandle& p) { return p.partition.checksum_chunk_bytes(); },
          "Bytes per checksum chunk of the file (0: no checksums, HDF5).")
      .def_property_readonly(
          "chunks_verified", [](const PartitionHandle& p) { return p.partition.chunks_verified(); },
          "Checksum chunks of the array verified so far through this Dataset's partitions.")
      .def(
          "values",
          [](const PartitionHandle& p, const std::string& memory) {
            return values_in(p.partition, memory);
          },
          py::arg("memory") = "mapped",
          "The values as a read-only NumPy array of the partition's shape. memory='mapped' (the "
          "default): without a copy, a view of the mapped .strata file (of the rows read, for "
          "HDF5); every checksum chunk it covers is verified first, in parallel (ChecksumError "
          "names a bad one). memory='resident': a copy in huge-page memory placed on the NUMA "
          "node whose threads read each block; memory='node-shared': one copy per node shared by "
          "its ranks; both verified on the way in, and both collective under MPI (every rank "
          "calls it). The array keeps what it views alive on its own, after the Partition and "
          "Dataset are gone or closed.")
      .def(
          "__array__",
          [](const PartitionHandle& p, py::object dtype, py::object copy) {
            py::array values = view_of(p.partition);
            if (dtype.is_none() && !copy.is(py::bool_(true))) return values;
            return py::array(values.attr("astype")(dtype.is_none() ? values.dtype() : dtype,
                                                   py::arg("copy") = copy.is(py::bool_(true))));
          },
          py::arg("dtype") = py::none(), py::arg("copy") = py::none(),
          "numpy.asarray(partition): the same as values() (NumPy 2's copy=True copies).")
      .def("__repr__", [](const PartitionHandle& p) {
        return "strata.Partition(rows=[" + std::to_string(p.partition.rows().first) + ", " +
               std::to_string(p.partition.rows().first + p.partition.rows().count) +
               "), dtype=" + std::string(to_string(p.partition.dtype())) +
               ", shape=" + p.partition.shape().to_string() + ")";
      });

  py::class_<DatasetHandle>(m, "Dataset",
                            "An array in a .strata or HDF5 file (strata.open). A context manager: "
                            "leaving the with-block closes it.")
      .def_property_readonly(
          "file", [](const DatasetHandle& d) { return d.get().file(); }, "The file's path.")
      .def_property_readonly(
          "name", [](const DatasetHandle& d) { return d.get().name(); },
          "The array's name in a .strata file, the dataset path in an HDF5 file.")
      .def_property_readonly(
          "source",
          [](const DatasetHandle& d) {
            return d.get().source() == io::DatasetSource::strata ? "strata" : "hdf5";
          },
          "'strata' or 'hdf5'.")
      .def_property_readonly(
          "dtype", [](const DatasetHandle& d) { return numpy_dtype(d.get().dtype()); },
          "The element type as a numpy.dtype.")
      .def_property_readonly(
          "shape", [](const DatasetHandle& d) { return shape_tuple(d.get().shape()); },
          "The array's shape.")
      .def_property_readonly(
          "rows", [](const DatasetHandle& d) { return d.get().rows(); },
          "Extent of the first dimension, the one partitions split.")
      .def_property_readonly("closed", &DatasetHandle::closed, "True after close().")
      .def(
          "partition",
          [](const DatasetHandle& d, std::optional<int> rank, std::optional<int> size) {
            if (rank.has_value() != size.has_value()) {
              throw py::type_error("partition() takes both rank and size, or neither");
            }
            const io::Dataset& ds = d.get();
            if (!rank) {
              Runtime& rt = current_session()->runtime();
              return PartitionHandle{ds.partition(rt.rank(), rt.size())};
            }
            return PartitionHandle{ds.partition(*rank, *size)};
          },
          py::arg("rank") = py::none(), py::arg("size") = py::none(),
          "Rank `rank` of `size`'s rows (the first m ranks take one extra row when they do not "
          "divide evenly; a rank may get none). Without arguments, this process's rank of the "
          "runtime's size. For HDF5 the rows are read here.")
      .def("close", &DatasetHandle::close,
           "Drops the handle: later use of the Dataset raises InvalidArgumentError. Partitions and "
           "arrays taken before keep the file mapped until they go.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](DatasetHandle& d, py::object, py::object, py::object) {
             d.close();
             return false;
           })
      .def("__repr__", [](const DatasetHandle& d) {
        return d.closed() ? std::string("strata.Dataset(closed)") : describe(d.get());
      });

  m.def(
      "open",
      [](const std::string& spec) {
        current_session();  // MPI, when launched, starts before HDF5 opens a file
        py::gil_scoped_release release;
        return DatasetHandle(io::Dataset::open(spec));
      },
      py::arg("spec"),
      "Opens 'file.strata', 'file.strata:array' or 'file.h5:/group/dataset'. Checks the file's "
      "header and tables (FormatError), not yet its data. Starts the process's runtime if none "
      "exists (create strata.Runtime(...) first to choose its options).");

  m.def(
      "partition_rows",
      [](std::uint64_t rows, std::optional<int> rank, std::optional<int> size) {
        if (rank.has_value() != size.has_value()) {
          throw py::type_error("partition_rows() takes both rank and size, or neither");
        }
        if (!rank) {
          Runtime& rt = current_session()->runtime();
          rank = rt.rank();
          size = rt.size();
        }
        const io::RowRange mine = io::partition_rows(rows, *rank, *size);
        return py::make_tuple(mine.first, mine.count);
      },
      py::arg("rows"), py::arg("rank") = py::none(), py::arg("size") = py::none(),
      "(first, count): rank `rank` of `size`'s share of `rows` rows under strata's split, the "
      "one Dataset.partition uses (the first rows % size ranks take one extra row). Without "
      "rank and size, this process's rank of the runtime's size. For a simulation's global "
      "array: allocate `count` rows and protect them with first_row=first.");
}

}  // namespace strata::python
