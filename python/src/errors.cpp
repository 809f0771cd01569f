// SPDX-License-Identifier: Apache-2.0
// The exception classes and the translator from strata::Error. Each category is a subclass of
// strata.Error, and also of the built-in exception a Python user would catch for it (an
// invalid argument is a ValueError, a file that cannot be read an OSError); corrupt data splits
// into ChecksumError (a chunk failed its checksum) and FormatError (anything else malformed).
#include "errors.hpp"

#include <Python.h>

#include <array>
#include <string>

#include "strata/runtime/base/error.hpp"

namespace py = pybind11;

namespace strata::python {
namespace {

struct ErrorClasses {
  PyObject* base = nullptr;
  std::array<PyObject*, 8> by_category{};  // indexed by ErrorCategory
  PyObject* checksum = nullptr;
  PyObject* format = nullptr;
};

ErrorClasses& classes() {
  static ErrorClasses c;
  return c;
}

// A new exception class strata.<name> with the given bases, added to the module.
PyObject* new_class(py::module_& m, const char* name, const char* doc, py::tuple bases) {
  const std::string qualified = std::string("strata.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (cls == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(cls));  // the module keeps the reference
  return cls;
}

PyObject* class_for(const Error& e) {
  const ErrorClasses& c = classes();
  if (e.category() == ErrorCategory::corrupt_data) {
    // A bad chunk names its chunk; a malformed header, table or image does not.
    return e.context_value("chunk").empty() ? c.format : c.checksum;
  }
  const auto index = static_cast<std::size_t>(e.category());
  return index < c.by_category.size() && c.by_category[index] ? c.by_category[index] : c.base;
}

void raise(const Error& e) {
  py::dict context;
  for (const ErrorContext& item : e.context()) context[py::str(item.key)] = py::str(item.value);
  py::object cls = py::reinterpret_borrow<py::object>(class_for(e));
  py::object instance = cls(py::str(e.what()));
  instance.attr("category") = py::str(std::string(to_string(e.category())));
  instance.attr("message") = py::str(e.message());
  instance.attr("context") = context;
  PyErr_SetObject(cls.ptr(), instance.ptr());
}

}  // namespace

void bind_errors(py::module_& m) {
  ErrorClasses& c = classes();
  const py::handle exception(PyExc_Exception);
  c.base = new_class(
      m, "Error",
      "Every error strata raises. Attributes: category (str, e.g. 'corrupt_data'), message (str, "
      "without context) and context (dict: file, field, rank, chunk ...). str(e) is the whole "
      "line the strata command would print.",
      py::make_tuple(exception));
  const py::handle base(c.base);
  struct Spec {
    ErrorCategory category;
    const char* name;
    PyObject* builtin;
    const char* doc;
  };
  const Spec specs[] = {
      {ErrorCategory::invalid_argument, "InvalidArgumentError", PyExc_ValueError,
       "An argument that can never work (bad spec, name, shape or rank); also a ValueError."},
      {ErrorCategory::io, "FileError", PyExc_OSError,
       "A file or folder could not be read or written; also an OSError."},
      {ErrorCategory::corrupt_data, "CorruptDataError", nullptr,
       "A file's contents fail validation: ChecksumError or FormatError."},
      {ErrorCategory::resource, "ResourceError", nullptr,
       "Memory, huge pages, locked memory or disk space ran out or were refused."},
      {ErrorCategory::system, "SystemCallError", nullptr,
       "An operating-system or library call failed unexpectedly."},
      {ErrorCategory::unsupported, "UnsupportedError", nullptr,
       "The machine, build or data type cannot do what was asked."},
      {ErrorCategory::distributed, "DistributedError", nullptr, "MPI or another rank failed."},
      {ErrorCategory::config, "ConfigError", nullptr,
       "The environment (Slurm variables, STRATA_*) is malformed."},
  };
  for (const Spec& s : specs) {
    py::tuple bases =
        s.builtin ? py::make_tuple(base, py::handle(s.builtin)) : py::make_tuple(base);
    c.by_category[static_cast<std::size_t>(s.category)] = new_class(m, s.name, s.doc, bases);
  }
  const py::handle corrupt(c.by_category[static_cast<std::size_t>(ErrorCategory::corrupt_data)]);
  c.checksum = new_class(m, "ChecksumError",
                         "A checksum chunk of a .strata file does not match its XXH3: the data on "
                         "disk changed after it was written. context names file, array and chunk.",
                         py::make_tuple(corrupt));
  c.format = new_class(m, "FormatError",
                       "A malformed file: bad magic, version, table, bounds or a truncated file.",
                       py::make_tuple(corrupt));

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      raise(e);
    }
  });
}

}  // namespace strata::python
