// SPDX-License-Identifier: Apache-2.0
// Count and filter by a comparison with a threshold, with SIMD compress-store (Highway, run-time
// dispatch). Comparisons follow IEEE: a NaN compares false to everything, so only not_equal keeps
// it (a NaN value, or every value when the threshold is NaN); infinities compare as numbers.
//
//   auto n = strata::kernels::count_if(values, strata::kernels::Compare::greater, 90.0);
//   std::vector<double> out(values.size());
//   out.resize(strata::kernels::filter(values, strata::kernels::Compare::greater, 90.0, out));
//   auto above = strata::reduce(ex, values, strata::kernels::CountIf<double>(Compare::greater, 90.0));
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace strata::kernels {

// value OP threshold, e.g. Compare::greater keeps values > threshold.
enum class Compare { less, less_equal, greater, greater_equal, equal, not_equal };

// How many values pass. A value outside the enumerators of Compare counts nothing.
std::size_t count_if(std::span<const float> values, Compare op, float threshold) noexcept;
std::size_t count_if(std::span<const double> values, Compare op, double threshold) noexcept;
std::size_t count_if(std::span<const std::int32_t> values, Compare op, std::int32_t threshold) noexcept;
std::size_t count_if(std::span<const std::int64_t> values, Compare op, std::int64_t threshold) noexcept;

// Writes the values that pass, in order, to the front of `out` and returns how many; elements of
// `out` past that count may be overwritten. `out` must hold at least values.size() elements and
// may be `values` itself (in-place compaction) but must not otherwise overlap it; an unknown
// Compare is refused too (std::invalid_argument in each case).
std::size_t filter(std::span<const float> values, Compare op, float threshold, std::span<float> out);
std::size_t filter(std::span<const double> values, Compare op, double threshold, std::span<double> out);
std::size_t filter(std::span<const std::int32_t> values, Compare op, std::int32_t threshold,
                   std::span<std::int32_t> out);
std::size_t filter(std::span<const std::int64_t> values, Compare op, std::int64_t threshold,
                   std::span<std::int64_t> out);

// count_if as an accumulator (strata::reduce, strata::combine): how many values of type T pass
// `value OP threshold`, over any chunking and any number of merged partial counts. The threshold
// is a T, so a caller with a double threshold for integer data decides how it rounds. merge adds
// counts; it does not check that both sides count the same predicate.
template <class T>
struct CountIf {
  Compare op = Compare::greater;
  T threshold{};
  std::uint64_t count = 0;

  CountIf() = default;
  CountIf(Compare compare, T value) noexcept : op(compare), threshold(value) {}
  void add(std::span<const T> values) noexcept { count += count_if(values, op, threshold); }
  void merge(const CountIf& other) noexcept { count += other.count; }
};

}  // namespace strata::kernels
