// SPDX-License-Identifier: Apache-2.0
// Checkpoints of NumPy arrays. protect() registers a writable C-contiguous array's memory as this
// rank's rows of a region: stacked across ranks in rank order, or, with global_shape, the rows
// [first_row, first_row + len(array)) of a global array (io::GlobalBlock), so a restart on another
// rank count fills each rank's new rows; the handle keeps the array alive while it is protected.
// save() copies the arrays and returns while compression and the atomic commit go on in the
// background; every protocol call releases the GIL. The Checkpointer ends before the runtime
// does, at close() or interpreter exit.
#include "checkpoint_binding.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dataset_binding.hpp"
#include "session.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"

namespace py = pybind11;

namespace strata::python {
namespace {

DType dtype_of_array(const py::array& a) {
  for (DType d : {DType::f32, DType::f64, DType::i8, DType::i16, DType::i32, DType::i64, DType::u8,
                  DType::u16, DType::u32, DType::u64}) {
    if (py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), numpy_dtype(d).ptr())) {
      return d;
    }
  }
  throw py::type_error("protect: dtype " + py::str(a.dtype()).cast<std::string>() +
                       " cannot be checkpointed; strata takes float32/64 and (u)int8..64 in native "
                       "byte order");
}

class CheckpointerHandle {
 public:
  explicit CheckpointerHandle(io::CheckpointOptions options)
      : session_(current_session()), checkpointer_(std::make_shared<Slot>()) {
    Runtime& rt = session_->runtime();
    Executor& ex = session_->executor();
    {
      py::gil_scoped_release release;
      checkpointer_->value = std::make_unique<io::Checkpointer>(rt, ex, std::move(options));
    }
    std::weak_ptr<Slot> slot = checkpointer_;
    session_->on_close([slot] {
      if (auto s = slot.lock()) s->value.reset();
    });
  }
  ~CheckpointerHandle() { close(); }

  // global_shape unset: the array is this rank's block, stacked in rank order; set: the array is
  // rows [first_row, first_row + rows) of a global array of that shape.
  void protect(const std::string& name, const py::array& array,
               const std::optional<std::vector<std::size_t>>& global_shape,
               std::optional<std::size_t> first_row) {
    if (!(array.flags() & py::array::c_style)) {
      throw py::value_error("protect: '" + name +
                            "' is not C-contiguous; protect the array that "
                            "owns the memory, not a strided view of it");
    }
    if (!array.writeable()) {
      throw py::value_error("protect: '" + name + "' is read-only; restore writes into it");
    }
    const DType dtype = dtype_of_array(array);
    Shape shape;
    for (py::ssize_t i = 0; i < array.ndim(); ++i)
      shape.push_back(static_cast<std::size_t>(array.shape(i)));
    auto* data = static_cast<std::byte*>(const_cast<void*>(array.data()));
    const std::span<std::byte> bytes{data, static_cast<std::size_t>(array.nbytes())};
    if (!global_shape) {
      if (first_row) {
        throw py::value_error("protect: first_row of '" + name +
                              "' needs global_shape, the shape of the whole array");
      }
      get().protect_stacked(name, dtype, bytes, shape);
    } else {
      const Shape global(global_shape->begin(), global_shape->end());
      // The array's rows must be rows of the global array: the same extents after the first.
      if (shape.rank() == 0 || shape.rank() != global.rank() ||
          !std::equal(global.begin() + 1, global.end(), shape.begin() + 1)) {
        throw py::value_error("protect: '" + name + "' of shape " + shape.to_string() +
                              " is not rows of global_shape " + global.to_string() +
                              " (every extent but the first must match)");
      }
      get().protect_bytes(name, dtype, bytes, {global, first_row.value_or(0)});
    }
    protected_.push_back(array);
  }
  bool due(long step) {
    io::Checkpointer& ck = get();
    py::gil_scoped_release release;
    return ck.due(step);
  }
  void save(long step) {
    io::Checkpointer& ck = get();
    py::gil_scoped_release release;
    ck.save(step);
  }
  io::SaveStatus wait() {
    io::Checkpointer& ck = get();
    py::gil_scoped_release release;
    return ck.wait();
  }
  std::optional<long> restore_latest() {
    io::Checkpointer& ck = get();
    py::gil_scoped_release release;
    return ck.restore_latest();
  }
  // Waits for a save in flight (its error is logged) and drops the arrays.
  void close() {
    if (checkpointer_ && checkpointer_->value) {
      py::gil_scoped_release release;
      checkpointer_->value.reset();
    }
    protected_.clear();
  }

 private:
  struct Slot {
    std::unique_ptr<io::Checkpointer> value;
  };
  io::Checkpointer& get() {
    if (!checkpointer_->value) {
      throw Error(ErrorCategory::invalid_argument, "operation on a closed strata.Checkpointer");
    }
    return *checkpointer_->value;
  }

  std::shared_ptr<Session> session_;
  std::shared_ptr<Slot> checkpointer_;
  std::vector<py::array> protected_;  // alive while the checkpointer may read or restore them
};

}  // namespace

void bind_checkpoints(py::module_& m) {
  py::class_<io::SaveStatus>(m, "SaveStatus", "What the last save did (Checkpointer.wait()).")
      .def_readonly("step", &io::SaveStatus::step)
      .def_property_readonly(
          "committed", [](const io::SaveStatus& s) { return s.state == io::SaveState::committed; })
      .def_readonly("copy_seconds", &io::SaveStatus::copy_seconds,
                    "How long save() held the caller.")
      .def_readonly("total_seconds", &io::SaveStatus::total_seconds, "From save() to commit.")
      .def_readonly("raw_bytes", &io::SaveStatus::raw_bytes, "This rank's protected bytes.")
      .def_readonly("written_bytes", &io::SaveStatus::written_bytes,
                    "This rank's shard bytes (compressed, reused chunks not counted).")
      .def_readonly("chunks_written", &io::SaveStatus::chunks_written)
      .def_readonly("chunks_reused", &io::SaveStatus::chunks_reused);

  py::class_<CheckpointerHandle>(
      m, "Checkpointer",
      "Checkpoint/restart of NumPy arrays: atomic across ranks, checksummed, zstd-compressed, "
      "incremental; a folder per step. Every method but protect() is collective: all ranks call "
      "it in the same order with the same step. A context manager (leaving it waits for the last "
      "save).")
      .def(py::init([](const std::string& dir, long every_steps, double every_seconds, int keep,
                       int zstd_level, bool incremental, const std::string& run_id) {
             io::CheckpointOptions o;
             o.dir = dir;
             o.every_steps = every_steps;
             o.every_seconds = every_seconds;
             o.keep = keep;
             o.codec = zstd_level == 0 ? io::no_compression() : io::zstd(zstd_level);
             o.incremental = incremental;
             o.run_id = run_id;
             return std::make_unique<CheckpointerHandle>(std::move(o));
           }),
           py::arg("dir"), py::kw_only(), py::arg("every_steps") = 0,
           py::arg("every_seconds") = 0.0, py::arg("keep") = 2, py::arg("zstd_level") = 1,
           py::arg("incremental") = true, py::arg("run_id") = "",
           "dir: the checkpoint folder. due(step) is true on multiples of every_steps or "
           "every_seconds after the last save. keep: complete checkpoints kept. zstd_level 0 "
           "stores raw bytes. run_id: restore refuses a checkpoint of another run.")
      .def("protect", &CheckpointerHandle::protect, py::arg("name"), py::arg("array"),
           py::kw_only(), py::arg("global_shape") = py::none(), py::arg("first_row") = py::none(),
           "Protects a writable C-contiguous NumPy array as this rank's rows of region `name`. "
           "Without global_shape the ranks' arrays are stacked in rank order along the first "
           "axis. With global_shape (the same on every rank) the array is rows [first_row, "
           "first_row + len(array)) of a global array of that shape (its other extents must "
           "match); the ranks' rows must tile it (else the commit fails: wait() raises "
           "DistributedError), and a restart on "
           "another rank count fills each rank's rows wherever they now start "
           "(strata.partition_rows gives strata's split). The array is kept alive and must not "
           "be reallocated: update it in place (u[...] = ...).")
      .def("due", &CheckpointerHandle::due, py::arg("step"))
      .def("save", &CheckpointerHandle::save, py::arg("step"),
           "Copies the protected arrays and returns; the write and atomic commit go on in the "
           "background. Steps must increase.")
      .def("wait", &CheckpointerHandle::wait,
           "Waits for the save in flight and returns its SaveStatus; raises its error if it "
           "failed (the previous checkpoint is then still the newest complete one).")
      .def("restore_latest", &CheckpointerHandle::restore_latest,
           "Restores the newest checkpoint that verifies on every rank into the protected arrays "
           "and returns its step, or None; corrupt or incomplete ones are skipped with a warning.")
      .def("close", &CheckpointerHandle::close,
           "Waits for a save in flight and releases the arrays; later calls raise "
           "InvalidArgumentError.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](CheckpointerHandle& c, py::object, py::object, py::object) {
        c.close();
        return false;
      });
}

}  // namespace strata::python
