// SPDX-License-Identifier: Apache-2.0
// Count and filter by comparison with a threshold: SIMD compare, CountTrue and compress-store,
// one source compiled per Highway target and dispatched at run time. The remainder of a span
// goes through the same comparisons as the body, so it follows the same rules.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>

#include "strata/kernels/filter.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "filter.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One functor per Compare; the loops below are instantiated per functor so the comparison is
// a single instruction in the loop, not a switch per vector.
struct Less {
  template <class V>
  HWY_INLINE auto operator()(V a, V b) const { return hn::Lt(a, b); }
};
// Highway 1.0.3 has <= and >= for floating lanes only; for integers (no NaN) they are the
// negations of > and <.
struct LessEqual {
  template <class V>
  HWY_INLINE auto operator()(V a, V b) const {
    if constexpr (hwy::IsFloat<hn::TFromV<V>>()) {
      return hn::Le(a, b);
    } else {
      return hn::Not(hn::Gt(a, b));
    }
  }
};
struct Greater {
  template <class V>
  HWY_INLINE auto operator()(V a, V b) const { return hn::Gt(a, b); }
};
struct GreaterEqual {
  template <class V>
  HWY_INLINE auto operator()(V a, V b) const {
    if constexpr (hwy::IsFloat<hn::TFromV<V>>()) {
      return hn::Ge(a, b);
    } else {
      return hn::Not(hn::Lt(a, b));
    }
  }
};
struct Equal {
  template <class V>
  HWY_INLINE auto operator()(V a, V b) const { return hn::Eq(a, b); }
};
// Not(Eq), not Ne: Highway 1.0.3's Ne on floats is unordered (NaN != x is true) on SSSE3/SSE4
// but ordered (false) on AVX2/AVX-512; IEEE says true, and Not(Eq) says so on every target.
struct NotEqual {
  template <class V>
  HWY_INLINE auto operator()(V a, V b) const { return hn::Not(hn::Eq(a, b)); }
};

template <class D, class Cmp, typename T>
HWY_INLINE std::size_t count_lanes(D d, Cmp cmp, const T* HWY_RESTRICT p, std::size_t n,
                                   T threshold) {
  const auto t = hn::Set(d, threshold);
  const std::size_t lanes = hn::Lanes(d);
  std::size_t count = 0;
  std::size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    count += hn::CountTrue(d, cmp(hn::LoadU(d, p + i), t));
    count += hn::CountTrue(d, cmp(hn::LoadU(d, p + i + lanes), t));
  }
  for (; i + lanes <= n; i += lanes) count += hn::CountTrue(d, cmp(hn::LoadU(d, p + i), t));
  return count;
}

template <class Cmp, typename T>
HWY_INLINE std::size_t count_span(Cmp cmp, const T* HWY_RESTRICT p, std::size_t n, T threshold) {
  const hn::ScalableTag<T> d;
  const hn::CappedTag<T, 1> d1;
  const std::size_t body = n - n % hn::Lanes(d);
  return count_lanes(d, cmp, p, body, threshold) +
         count_lanes(d1, cmp, p + body, n - body, threshold);
}

// Appends the passing lanes of p[0, n) at out + written. CompressStore writes a whole vector
// (lanes past the passing ones hold garbage), which stays inside `out` because written <= i
// and i + lanes <= n <= out's size; for the same reason out == p (in place) is safe.
template <class D, class Cmp, typename T>
HWY_INLINE std::size_t filter_lanes(D d, Cmp cmp, const T* p, std::size_t n, T threshold, T* out,
                                    std::size_t written) {
  const auto t = hn::Set(d, threshold);
  const std::size_t lanes = hn::Lanes(d);
  for (std::size_t i = 0; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(d, p + i);
    written += hn::CompressStore(v, cmp(v, t), d, out + written);
  }
  return written;
}

// The last r < Lanes(d) values, through a full vector in a stack buffer, with the lanes past r
// masked off. Not one-lane vectors as elsewhere: Highway 1.0.3's AVX-512 CompressStore of a
// partial vector passes the unused lanes' mask bits to vcompresspd and so stores lanes that
// were never loaded, past the end of `out`.
template <class Cmp, typename T>
HWY_INLINE std::size_t filter_tail(Cmp cmp, const T* p, std::size_t r, T threshold, T* out) {
  const hn::ScalableTag<T> d;
  constexpr std::size_t kMaxLanes = HWY_MAX_BYTES / sizeof(T);
  HWY_ALIGN T in[kMaxLanes] = {};
  HWY_ALIGN T kept[kMaxLanes];
  std::memcpy(in, p, r * sizeof(T));
  const auto v = hn::Load(d, in);
  const auto pass = hn::And(cmp(v, hn::Set(d, threshold)), hn::FirstN(d, r));
  const std::size_t count = hn::CompressStore(v, pass, d, kept);
  std::memcpy(out, kept, count * sizeof(T));
  return count;
}

template <class Cmp, typename T>
HWY_INLINE std::size_t filter_span(Cmp cmp, const T* p, std::size_t n, T threshold, T* out) {
  const hn::ScalableTag<T> d;
  const std::size_t body = n - n % hn::Lanes(d);
  const std::size_t written = filter_lanes(d, cmp, p, body, threshold, out, 0);
  if (body == n) return written;
  // The remainder's values come after the body's: out + written <= out + body.
  return written + filter_tail(cmp, p + body, n - body, threshold, out + written);
}

// Calls f with the functor for op (the enumerators are checked by the public functions).
template <class F>
HWY_INLINE std::size_t with_comparison(Compare op, F&& f) {
  switch (op) {
    case Compare::less: return f(Less());
    case Compare::less_equal: return f(LessEqual());
    case Compare::greater: return f(Greater());
    case Compare::greater_equal: return f(GreaterEqual());
    case Compare::equal: return f(Equal());
    case Compare::not_equal: return f(NotEqual());
  }
  return 0;
}

template <typename T>
std::size_t count_typed(const T* p, std::size_t n, Compare op, T threshold) {
  return with_comparison(
      op, [&](auto cmp) HWY_ATTR { return count_span(cmp, p, n, threshold); });
}

template <typename T>
std::size_t filter_typed(const T* p, std::size_t n, Compare op, T threshold, T* out) {
  return with_comparison(
      op, [&](auto cmp) HWY_ATTR { return filter_span(cmp, p, n, threshold, out); });
}

std::size_t count_f32(const float* p, std::size_t n, Compare op, float t) {
  return count_typed(p, n, op, t);
}
std::size_t count_f64(const double* p, std::size_t n, Compare op, double t) {
  return count_typed(p, n, op, t);
}
std::size_t count_i32(const std::int32_t* p, std::size_t n, Compare op, std::int32_t t) {
  return count_typed(p, n, op, t);
}
std::size_t count_i64(const std::int64_t* p, std::size_t n, Compare op, std::int64_t t) {
  return count_typed(p, n, op, t);
}
std::size_t filter_f32(const float* p, std::size_t n, Compare op, float t, float* out) {
  return filter_typed(p, n, op, t, out);
}
std::size_t filter_f64(const double* p, std::size_t n, Compare op, double t, double* out) {
  return filter_typed(p, n, op, t, out);
}
std::size_t filter_i32(const std::int32_t* p, std::size_t n, Compare op, std::int32_t t,
                       std::int32_t* out) {
  return filter_typed(p, n, op, t, out);
}
std::size_t filter_i64(const std::int64_t* p, std::size_t n, Compare op, std::int64_t t,
                       std::int64_t* out) {
  return filter_typed(p, n, op, t, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace strata::kernels {
namespace {

HWY_EXPORT(count_f32);
HWY_EXPORT(count_f64);
HWY_EXPORT(count_i32);
HWY_EXPORT(count_i64);
HWY_EXPORT(filter_f32);
HWY_EXPORT(filter_f64);
HWY_EXPORT(filter_i32);
HWY_EXPORT(filter_i64);

bool known(Compare op) noexcept {
  return static_cast<unsigned>(op) <= static_cast<unsigned>(Compare::not_equal);
}

// The output contract of filter(): room for every value, and no overlap except exact aliasing.
template <typename T>
void check_output(std::span<const T> values, Compare op, std::span<T> out) {
  if (!known(op)) {
    throw std::invalid_argument("filter: unknown Compare value " +
                                std::to_string(static_cast<int>(op)));
  }
  if (out.size() < values.size()) {
    throw std::invalid_argument("filter: output holds " + std::to_string(out.size()) +
                                " elements, the input " + std::to_string(values.size()));
  }
  const std::less<const T*> before;
  const T* const out_begin = out.data();
  const bool overlap = before(out_begin, values.data() + values.size()) &&
                       before(values.data(), out_begin + values.size());
  if (overlap && out_begin != values.data()) {
    throw std::invalid_argument("filter: output overlaps the input (only exact aliasing is allowed)");
  }
}

}  // namespace

std::size_t count_if(std::span<const float> values, Compare op, float threshold) noexcept {
  if (!known(op)) return 0;
  return HWY_DYNAMIC_DISPATCH(count_f32)(values.data(), values.size(), op, threshold);
}
std::size_t count_if(std::span<const double> values, Compare op, double threshold) noexcept {
  if (!known(op)) return 0;
  return HWY_DYNAMIC_DISPATCH(count_f64)(values.data(), values.size(), op, threshold);
}
std::size_t count_if(std::span<const std::int32_t> values, Compare op,
                     std::int32_t threshold) noexcept {
  if (!known(op)) return 0;
  return HWY_DYNAMIC_DISPATCH(count_i32)(values.data(), values.size(), op, threshold);
}
std::size_t count_if(std::span<const std::int64_t> values, Compare op,
                     std::int64_t threshold) noexcept {
  if (!known(op)) return 0;
  return HWY_DYNAMIC_DISPATCH(count_i64)(values.data(), values.size(), op, threshold);
}

std::size_t filter(std::span<const float> values, Compare op, float threshold,
                   std::span<float> out) {
  check_output(values, op, out);
  return HWY_DYNAMIC_DISPATCH(filter_f32)(values.data(), values.size(), op, threshold,
                                          out.data());
}
std::size_t filter(std::span<const double> values, Compare op, double threshold,
                   std::span<double> out) {
  check_output(values, op, out);
  return HWY_DYNAMIC_DISPATCH(filter_f64)(values.data(), values.size(), op, threshold,
                                          out.data());
}
std::size_t filter(std::span<const std::int32_t> values, Compare op, std::int32_t threshold,
                   std::span<std::int32_t> out) {
  check_output(values, op, out);
  return HWY_DYNAMIC_DISPATCH(filter_i32)(values.data(), values.size(), op, threshold,
                                          out.data());
}
std::size_t filter(std::span<const std::int64_t> values, Compare op, std::int64_t threshold,
                   std::span<std::int64_t> out) {
  check_output(values, op, out);
  return HWY_DYNAMIC_DISPATCH(filter_i64)(values.data(), values.size(), op, threshold,
                                          out.data());
}

}  // namespace strata::kernels
#endif  // HWY_ONCE
