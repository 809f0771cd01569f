// SPDX-License-Identifier: Apache-2.0
// The `strata._strata` extension (re-exported by the `strata` package): errors, the process's
// Runtime, datasets, kernels and checkpoints. The runtime is closed from an atexit hook, which runs before
// mpi4py finalises MPI, so its communicator is freed while MPI is still up.
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>

#include "checkpoint_binding.hpp"
#include "dataset_binding.hpp"
#include "errors.hpp"
#include "kernel_binding.hpp"
#include "session.hpp"

namespace py = pybind11;

namespace strata::python {
namespace {

// strata.Runtime: a handle on the process's session.
struct RuntimeHandle {
  std::shared_ptr<Session> session;
};

void bind_runtime(py::module_& m) {
  py::class_<RuntimeHandle>(
      m, "Runtime",
      "The process's strata runtime: its MPI rank and size, topology and the executor's threads. "
      "One per process: strata.runtime() returns it (creating it with defaults on first use, as "
      "every kernel does); create strata.Runtime(...) yourself, before anything else of strata, to "
      "choose the threads or to turn on stop signals. Under mpirun/srun it joins the MPI job "
      "(attaching to the MPI mpi4py initialised, or starting MPI itself).")
      .def(
          py::init([](unsigned threads, bool stop_signals) {
            return RuntimeHandle{start_session({.threads = threads, .stop_signals = stop_signals})};
          }),
          py::kw_only(), py::arg("threads") = 0, py::arg("stop_signals") = false,
          "threads: total worker threads (0: STRATA_THREADS or every allowed CPU). stop_signals: "
          "SIGUSR1/SIGTERM (Slurm's warning before the time limit) set stop_requested() instead "
          "of ending the process. InvalidArgumentError if a runtime exists already.")
      .def_property_readonly("rank",
                             [](const RuntimeHandle& r) { return r.session->runtime().rank(); })
      .def_property_readonly("size",
                             [](const RuntimeHandle& r) { return r.session->runtime().size(); })
      .def_property_readonly(
          "threads", [](const RuntimeHandle& r) { return r.session->executor().threads(); },
          "Worker threads of the executor.")
      .def_property_readonly(
          "numa_nodes", [](const RuntimeHandle& r) { return r.session->executor().node_count(); })
      .def_property_readonly(
          "uses_mpi", [](const RuntimeHandle& r) { return r.session->runtime().mpi().uses_mpi(); },
          "True when the process is part of an MPI job.")
      .def_property_readonly("closed", [](const RuntimeHandle& r) { return r.session->closed(); })
      .def(
          "stop_requested",
          [](const RuntimeHandle& r) { return r.session->runtime().stop_requested(); },
          "True once SIGUSR1 or SIGTERM arrived (needs stop_signals=True).")
      .def(
          "stop_requested_anywhere",
          [](const RuntimeHandle& r) {
            Runtime& rt = r.session->runtime();
            py::gil_scoped_release release;
            return rt.stop_requested_anywhere();
          },
          "Collective: True on every rank when any rank was asked to stop.")
      .def(
          "exit_for_requeue",
          [](const RuntimeHandle& r) { return r.session->runtime().exit_for_requeue(); },
          "Logs that the job wants to be requeued and returns 75 "
          "(sys.exit(rt.exit_for_requeue())).")
      .def(
          "abort",
          [](const RuntimeHandle& r, int exit_code) {
            r.session->runtime().mpi().abort(exit_code);
          },
          py::arg("exit_code") = 1,
          "Ends the whole job now with exit_code (MPI_Abort with several ranks, else the process "
          "exits at once): for an error on one rank while the others wait in a collective. "
          "Python's buffers are not flushed: print with flush=True first.")
      .def(
          "close", [](const RuntimeHandle& r) { r.session->close(); },
          "Ends the executor and the runtime (and MPI, if this runtime started it). Called at "
          "interpreter exit; a later strata call starts a new runtime.")
      .def("__repr__", [](const RuntimeHandle& r) {
        if (r.session->closed()) return std::string("strata.Runtime(closed)");
        return "strata.Runtime(rank=" + std::to_string(r.session->runtime().rank()) +
               ", size=" + std::to_string(r.session->runtime().size()) +
               ", threads=" + std::to_string(r.session->executor().threads()) + ")";
      });

  m.def(
      "runtime", [] { return RuntimeHandle{current_session()}; },
      "The process's Runtime, created with default options if none exists.");
  m.attr("EXIT_REQUEUE") = kExitRequeue;
}

}  // namespace
}  // namespace strata::python

PYBIND11_MODULE(_strata, m) {
  m.doc() = "strata's runtime, datasets and kernels (the compiled part of the strata package)";
  strata::python::bind_errors(m);
  strata::python::bind_runtime(m);
  strata::python::bind_datasets(m);
  strata::python::bind_kernels(m);
  strata::python::bind_checkpoints(m);
  py::module_::import("atexit").attr("register")(
      py::cpp_function([] { strata::python::end_session(); }));
}
