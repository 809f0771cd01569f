// SPDX-License-Identifier: Apache-2.0
// The analysis kernels for Python. Input is a strata.Partition (reduced as the strata command
// does: each executor chunk verifies its checksum chunks in the thread that reads it) or a
// C-contiguous NumPy array of float32, float64, int32 or int64, read in place; anything else is
// refused, never copied. The pass runs on the executor with the GIL released, and with
// allreduce=True the ranks' results merge along a fixed tree over the ranks, so every rank gets
// the same bits.
#include "kernel_binding.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "dataset_binding.hpp"
#include "session.hpp"
#include "strata/io/dataset/partition_source.hpp"
#include "strata/kernels/filter.hpp"
#include "strata/kernels/histogram.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/scheduler/combine.hpp"
#include "strata/scheduler/dtype_dispatch.hpp"
#include "strata/scheduler/parallel.hpp"

namespace py = pybind11;

namespace strata::python {
namespace {

constexpr const char* kSupported = "float32, float64, int32 or int64";

// What a kernel reads: a partition, or an array's contiguous values with their dtype.
struct Input {
  const io::Partition* partition = nullptr;
  py::array array;  // holds the buffer for the pass
  DType dtype = DType::f64;
};

template <class T>
bool holds(const py::array& a) {
  return py::isinstance<py::array_t<T>>(a);
}

// The input, or TypeError/ValueError saying why it cannot be read in place.
Input input_of(const char* kernel, const py::object& x) {
  if (py::isinstance<PartitionHandle>(x)) {
    const io::Partition& p = x.cast<const PartitionHandle&>().partition;
    const DType d = p.dtype();
    if (d != DType::f32 && d != DType::f64 && d != DType::i32 && d != DType::i64) {
      throw py::type_error(std::string(kernel) + ": the partition's dtype " +
                           std::string(to_string(d)) + " is not supported; the kernels take " +
                           kSupported);
    }
    return {&p, {}, d};
  }
  if (!py::isinstance<py::array>(x)) {
    throw py::type_error(std::string(kernel) +
                         " takes a numpy.ndarray or a strata.Partition, not " +
                         py::str(py::type::of(x).attr("__name__")).cast<std::string>() +
                         " (numpy.asarray(x) makes one)");
  }
  py::array a = py::reinterpret_borrow<py::array>(x);
  Input in{nullptr, a, DType::f64};
  if (holds<float>(a))
    in.dtype = DType::f32;
  else if (holds<double>(a))
    in.dtype = DType::f64;
  else if (holds<std::int32_t>(a))
    in.dtype = DType::i32;
  else if (holds<std::int64_t>(a))
    in.dtype = DType::i64;
  else {
    throw py::type_error(std::string(kernel) + ": dtype " + py::str(a.dtype()).cast<std::string>() +
                         " is not supported; the kernels take " + kSupported +
                         " in native byte order (x.astype(numpy.float64) converts, with a copy)");
  }
  if (!(a.flags() & py::array::c_style)) {
    throw py::value_error(std::string(kernel) +
                          ": the array is not C-contiguous (a strided view or a transpose); strata "
                          "reads arrays in place and does not copy them: pass "
                          "numpy.ascontiguousarray(x) to copy it explicitly");
  }
  return in;
}

// Reduces the input with copies of `init` (an accumulator of T) on the executor, merging across
// ranks when asked; the GIL is released for the pass and the merge.
template <class T, class A>
A run(const Input& in, A init, bool allreduce) {
  std::shared_ptr<Session> session = current_session();
  Executor& ex = session->executor();
  Runtime& rt = session->runtime();
  const T* data = in.partition ? nullptr : static_cast<const T*>(in.array.data());
  const auto n = static_cast<std::size_t>(in.partition ? 0 : in.array.size());
  py::gil_scoped_release release;
  A result = in.partition ? strata::reduce<T>(ex, *in.partition, std::move(init))
                          : strata::reduce(ex, std::span<const T>(data, n), std::move(init));
  if (allreduce) result = rt.allreduce(result);
  return result;
}

kernels::Compare parse_op(const std::string& op) {
  if (op == "<") return kernels::Compare::less;
  if (op == "<=") return kernels::Compare::less_equal;
  if (op == ">") return kernels::Compare::greater;
  if (op == ">=") return kernels::Compare::greater_equal;
  if (op == "==") return kernels::Compare::equal;
  if (op == "!=") return kernels::Compare::not_equal;
  throw py::value_error("count: op must be one of '<', '<=', '>', '>=', '==', '!=', not '" + op +
                        "'");
}

// The threshold as a T. Floating data takes any number (rounded to T, as NumPy compares a float32
// array with a Python float); integer data only a whole number its type holds, so no comparison is
// silently changed by rounding.
template <class T>
T threshold_as(const py::object& threshold) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(threshold.cast<double>());
  } else {
    const auto text = [&] { return py::str(py::repr(threshold)).cast<std::string>(); };
    if (py::isinstance<py::int_>(threshold) && !py::isinstance<py::bool_>(threshold)) {
      const auto v = threshold.cast<py::int_>();
      const py::int_ lo(std::numeric_limits<T>::min()), hi(std::numeric_limits<T>::max());
      if (v < lo || v > hi) {
        throw py::value_error("count: threshold " + text() + " is outside the range of the " +
                              std::string(to_string(dtype_of<T>())) + " data");
      }
      return v.cast<T>();
    }
    const double d = threshold.cast<double>();
    if (std::floor(d) != d || d < static_cast<double>(std::numeric_limits<T>::min()) ||
        d >= -static_cast<double>(std::numeric_limits<T>::min())) {
      throw py::value_error("count: threshold " + text() + " is not a value of the " +
                            std::string(to_string(dtype_of<T>())) +
                            " data; compare integer data with a whole number");
    }
    return static_cast<T>(d);
  }
}

kernels::Histogram empty_histogram(std::size_t bins, const std::pair<double, double>& range,
                                   bool include_high) {
  return kernels::Histogram(
      range.first, range.second, bins,
      include_high ? kernels::HighEdge::last_bin : kernels::HighEdge::overflow);
}

// The value of an optional, or None.
py::object optional_value(const std::optional<double>& v) {
  return v ? py::object(py::float_(*v)) : py::object(py::none());
}

py::int_ to_python_int(kernels::Int128 v) {
  return py::int_(py::reinterpret_steal<py::object>(
      PyLong_FromString(kernels::to_decimal(v).c_str(), nullptr, 10)));
}

struct SummaryResult {
  kernels::Stats stats;
  std::optional<kernels::Histogram> histogram;
  std::optional<std::uint64_t> count;
};

template <class T>
SummaryResult summarize_as(const Input& in, const std::optional<kernels::Histogram>& histogram,
                           const std::optional<kernels::CountIf<T>>& count, bool allreduce) {
  if (histogram && count) {
    auto r = run<T>(in, combine(kernels::Stats{}, *histogram, *count), allreduce);
    return {r.template get<0>(), r.template get<1>(), r.template get<2>().count};
  }
  if (histogram) {
    auto r = run<T>(in, combine(kernels::Stats{}, *histogram), allreduce);
    return {r.template get<0>(), r.template get<1>(), std::nullopt};
  }
  if (count) {
    auto r = run<T>(in, combine(kernels::Stats{}, *count), allreduce);
    return {r.template get<0>(), std::nullopt, r.template get<1>().count};
  }
  return {run<T>(in, kernels::Stats{}, allreduce), std::nullopt, std::nullopt};
}

void bind_stats_class(py::module_& m) {
  using kernels::Stats;
  auto summary = [](const Stats& s) { return s.summary(); };
  py::class_<Stats>(m, "Stats",
                    "Count, sum, min, max, mean and variance of the values: NaNs are counted apart "
                    "and skipped, infinities counted and included. None where no value exists (no "
                    "values, or only NaNs). Integer data has an exact int sum, min and max.")
      .def_property_readonly(
          "count", [=](const Stats& s) { return summary(s).count; }, "Values, NaNs excluded.")
      .def_property_readonly("nan_count", [=](const Stats& s) { return summary(s).nan_count; })
      .def_property_readonly("pos_inf_count",
                             [=](const Stats& s) { return summary(s).pos_inf_count; })
      .def_property_readonly("neg_inf_count",
                             [=](const Stats& s) { return summary(s).neg_inf_count; })
      .def_property_readonly(
          "sum",
          [=](const Stats& s) -> py::object {
            const auto r = summary(s);
            if (r.integer_sum) return to_python_int(*r.integer_sum);
            return py::float_(r.sum);
          },
          "The sum: an exact int for integer data, else a float (compensated, 0.0 for no values).")
      .def_property_readonly("min",
                             [=](const Stats& s) -> py::object {
                               const auto r = summary(s);
                               if (r.integer_min) return py::int_(*r.integer_min);
                               return optional_value(r.min);
                             })
      .def_property_readonly("max",
                             [=](const Stats& s) -> py::object {
                               const auto r = summary(s);
                               if (r.integer_max) return py::int_(*r.integer_max);
                               return optional_value(r.max);
                             })
      .def_property_readonly("mean",
                             [=](const Stats& s) { return optional_value(summary(s).mean); })
      .def_property_readonly(
          "variance", [=](const Stats& s) { return optional_value(summary(s).variance); },
          "Population variance (numpy.var's ddof=0).")
      .def_property_readonly(
          "sample_variance",
          [=](const Stats& s) { return optional_value(summary(s).sample_variance); },
          "ddof=1; None also for a single value.")
      .def_property_readonly(
          "stddev", [=](const Stats& s) { return optional_value(summary(s).stddev); },
          "sqrt(variance) (numpy.std's ddof=0).")
      .def(
          "merge", [](Stats& s, const Stats& other) { s.merge(other); }, py::arg("other"),
          "Adds another partial result (of other values) into this one.")
      .def("__repr__", [](const Stats& s) {
        py::object self = py::cast(s);
        return "strata.Stats(count=" + std::to_string(s.summary().count) +
               ", mean=" + py::str(self.attr("mean")).cast<std::string>() +
               ", stddev=" + py::str(self.attr("stddev")).cast<std::string>() +
               ", min=" + py::str(self.attr("min")).cast<std::string>() +
               ", max=" + py::str(self.attr("max")).cast<std::string>() + ")";
      });
}

void bind_histogram_class(py::module_& m) {
  using kernels::Histogram;
  py::class_<Histogram>(m, "Histogram",
                        "Counts in uniform bins over [low, high]; values outside are counted as "
                        "underflow and overflow (numpy.histogram drops them), NaNs apart.")
      .def_property_readonly(
          "counts",
          [](const Histogram& h) {
            return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(h.bins()),
                                              h.counts().data());
          },
          "Per-bin counts, a new numpy.uint64 array.")
      .def_property_readonly(
          "edges",
          [](const Histogram& h) {
            py::array_t<double> edges(static_cast<py::ssize_t>(h.bins() + 1));
            for (std::size_t i = 0; i <= h.bins(); ++i) edges.mutable_at(i) = h.edge(i);
            return edges;
          },
          "The bins + 1 edges, low to high.")
      .def_property_readonly("bins", &Histogram::bins)
      .def_property_readonly("low", &Histogram::low)
      .def_property_readonly("high", &Histogram::high)
      .def_property_readonly(
          "include_high",
          [](const Histogram& h) { return h.high_edge() == kernels::HighEdge::last_bin; },
          "True: a value equal to high counts in the last bin (NumPy's rule).")
      .def_property_readonly("underflow", &Histogram::underflow, "Values below low.")
      .def_property_readonly("overflow", &Histogram::overflow,
                             "Values above high (at high too unless include_high).")
      .def_property_readonly("nan_count", &Histogram::nan_count)
      .def_property_readonly("total", &Histogram::total,
                             "Every value seen: bins, underflow, overflow and NaNs.")
      .def(
          "merge", [](Histogram& h, const Histogram& other) { h.merge(other); }, py::arg("other"),
          "Adds another histogram of the same bins (ValueError otherwise).")
      .def("__repr__", [](const Histogram& h) {
        return "strata.Histogram(bins=" + std::to_string(h.bins()) + ", range=(" +
               py::str(py::float_(h.low())).cast<std::string>() + ", " +
               py::str(py::float_(h.high())).cast<std::string>() +
               "), total=" + std::to_string(h.total()) + ")";
      });
}

}  // namespace

void bind_kernels(py::module_& m) {
  bind_stats_class(m);
  bind_histogram_class(m);
  py::class_<SummaryResult>(m, "Summary", "The results of strata.summarize's one pass.")
      .def_readonly("stats", &SummaryResult::stats)
      .def_readonly("histogram", &SummaryResult::histogram, "A Histogram, or None if not asked.")
      .def_readonly("count", &SummaryResult::count, "The count, or None if not asked.");

  m.def(
      "stats",
      [](const py::object& x, bool allreduce) {
        const Input in = input_of("stats", x);
        return visit_kernel_dtype(
            in.dtype, [&]<class T>(T) { return run<T>(in, kernels::Stats{}, allreduce); });
      },
      py::arg("x"), py::kw_only(), py::arg("allreduce") = false,
      "Statistics of x (a strata.Partition or a C-contiguous NumPy array of float32, float64, "
      "int32 or int64) in one parallel pass. allreduce=True merges every rank's result in rank "
      "order (collective: every rank calls it).");

  m.def(
      "histogram",
      [](const py::object& x, std::size_t bins, std::pair<double, double> range, bool include_high,
         bool allreduce) {
        kernels::Histogram empty = empty_histogram(bins, range, include_high);
        const Input in = input_of("histogram", x);
        return visit_kernel_dtype(in.dtype,
                                  [&]<class T>(T) { return run<T>(in, empty, allreduce); });
      },
      py::arg("x"), py::arg("bins"), py::arg("range"), py::kw_only(),
      py::arg("include_high") = true, py::arg("allreduce") = false,
      "Histogram of x with `bins` uniform bins over range=(low, high), in one parallel pass. "
      "The range is required (no hidden pass for min and max). include_high=True follows "
      "numpy.histogram: the last bin is closed. ValueError unless low < high and 1 <= bins <= "
      "2**24.");

  m.def(
      "count",
      [](const py::object& x, const std::string& op, const py::object& threshold, bool allreduce) {
        const kernels::Compare compare = parse_op(op);
        const Input in = input_of("count", x);
        return visit_kernel_dtype(in.dtype, [&]<class T>(T) {
          return run<T>(in, kernels::CountIf<T>(compare, threshold_as<T>(threshold)), allreduce)
              .count;
        });
      },
      py::arg("x"), py::arg("op"), py::arg("threshold"), py::kw_only(),
      py::arg("allreduce") = false,
      "How many values v satisfy `v op threshold`, op one of '<', '<=', '>', '>=', '==', '!=' "
      "(IEEE: NaN passes only '!='). Integer data takes only a whole-number threshold its type "
      "holds (ValueError otherwise).");

  m.def(
      "summarize",
      [](const py::object& x, std::optional<std::size_t> bins,
         std::optional<std::pair<double, double>> range, bool include_high,
         std::optional<std::pair<std::string, py::object>> count, bool allreduce) {
        if (bins.has_value() != range.has_value()) {
          throw py::value_error("summarize: bins and range go together");
        }
        std::optional<kernels::Histogram> histogram;
        if (bins) histogram = empty_histogram(*bins, *range, include_high);
        std::optional<kernels::Compare> compare;
        if (count) compare = parse_op(count->first);
        const Input in = input_of("summarize", x);
        return visit_kernel_dtype(in.dtype, [&]<class T>(T) {
          std::optional<kernels::CountIf<T>> count_if;
          if (count) count_if.emplace(*compare, threshold_as<T>(count->second));
          return summarize_as<T>(in, histogram, count_if, allreduce);
        });
      },
      py::arg("x"), py::kw_only(), py::arg("bins") = py::none(), py::arg("range") = py::none(),
      py::arg("include_high") = true, py::arg("count") = py::none(), py::arg("allreduce") = false,
      "Statistics, and optionally a histogram (bins=, range=) and a count (count=(op, "
      "threshold)), all in ONE pass over x: each chunk is read once while every result takes "
      "it. The same results as the separate calls.");
}

}  // namespace strata::python
