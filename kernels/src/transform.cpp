// SPDX-License-Identifier: Apache-2.0
// Element-wise transforms (scale, axpy, affine) and the streaming copy, one source compiled per
// Highway target and dispatched at run time. Remainders run the same operations on one-lane
// vectors, so every element of a span is computed alike (fused or not, per target).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>

#include "strata/kernels/transform.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "transform.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Applies `op(d, i)` at every index of [0, n): lanes of d at a time, then one lane at a time.
template <typename T, class Op>
HWY_INLINE void for_each_lane(std::size_t n, const Op& op) {
  const hn::ScalableTag<T> d;
  const hn::CappedTag<T, 1> d1;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) op(d, i);
  for (; i < n; ++i) op(d1, i);
}

template <typename T>
void scale_typed(T* HWY_RESTRICT x, std::size_t n, T a) {
  for_each_lane<T>(n, [&](auto d, std::size_t i) HWY_ATTR {
    hn::StoreU(hn::Mul(hn::Set(d, a), hn::LoadU(d, x + i)), d, x + i);
  });
}

// y may be x itself, so neither pointer is restrict.
template <typename T>
void axpy_typed(T a, const T* x, T* y, std::size_t n) {
  for_each_lane<T>(n, [&](auto d, std::size_t i) HWY_ATTR {
    hn::StoreU(hn::MulAdd(hn::Set(d, a), hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  });
}

template <typename T>
void affine_typed(const T* x, T a, T b, T* out, std::size_t n) {
  for_each_lane<T>(n, [&](auto d, std::size_t i) HWY_ATTR {
    hn::StoreU(hn::MulAdd(hn::Set(d, a), hn::LoadU(d, x + i), hn::Set(d, b)), d, out + i);
  });
}

void scale_f32(float* x, std::size_t n, float a) { scale_typed(x, n, a); }
void scale_f64(double* x, std::size_t n, double a) { scale_typed(x, n, a); }
void axpy_f32(float a, const float* x, float* y, std::size_t n) { axpy_typed(a, x, y, n); }
void axpy_f64(double a, const double* x, double* y, std::size_t n) { axpy_typed(a, x, y, n); }
void affine_f32(const float* x, float a, float b, float* out, std::size_t n) {
  affine_typed(x, a, b, out, n);
}
void affine_f64(const double* x, double a, double b, double* out, std::size_t n) {
  affine_typed(x, a, b, out, n);
}

// Copies with non-temporal stores: a memcpy-sized head brings the destination to a 64-byte
// boundary (Stream needs a vector-aligned address, and 64 suits every x86 vector), whole
// vectors stream, a memcpy does the tail, and a store fence orders the streamed stores before
// whatever the caller stores next (a flag that publishes the copy, say).
void stream_copy(const std::uint8_t* HWY_RESTRICT source, std::uint8_t* HWY_RESTRICT destination,
                 std::size_t n) {
  const hn::ScalableTag<std::uint8_t> d;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t misaligned = reinterpret_cast<std::uintptr_t>(destination) % 64;
  const std::size_t head = std::min(n, (64 - misaligned) % 64);
  std::memcpy(destination, source, head);
  std::size_t i = head;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const auto v0 = hn::LoadU(d, source + i);
    const auto v1 = hn::LoadU(d, source + i + lanes);
    const auto v2 = hn::LoadU(d, source + i + 2 * lanes);
    const auto v3 = hn::LoadU(d, source + i + 3 * lanes);
    hn::Stream(v0, d, destination + i);
    hn::Stream(v1, d, destination + i + lanes);
    hn::Stream(v2, d, destination + i + 2 * lanes);
    hn::Stream(v3, d, destination + i + 3 * lanes);
  }
  for (; i + lanes <= n; i += lanes) hn::Stream(hn::LoadU(d, source + i), d, destination + i);
  std::memcpy(destination + i, source + i, n - i);
  hwy::FlushStream();
}

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace strata::kernels {
namespace {

HWY_EXPORT(scale_f32);
HWY_EXPORT(scale_f64);
HWY_EXPORT(axpy_f32);
HWY_EXPORT(axpy_f64);
HWY_EXPORT(affine_f32);
HWY_EXPORT(affine_f64);
HWY_EXPORT(stream_copy);

// Element-wise kernels may write over their input exactly (x == y), never partly shifted.
template <typename A, typename B>
void check_pair(const char* what, std::span<A> in, std::span<B> out) {
  if (in.size() != out.size()) {
    throw std::invalid_argument(std::string(what) + ": spans of " + std::to_string(in.size()) +
                                " and " + std::to_string(out.size()) + " elements");
  }
  const auto* a = reinterpret_cast<const std::byte*>(in.data());
  const auto* b = reinterpret_cast<const std::byte*>(out.data());
  const std::less<const std::byte*> before;
  const bool overlap = before(a, b + out.size_bytes()) && before(b, a + in.size_bytes());
  if (overlap && a != b) {
    throw std::invalid_argument(std::string(what) + ": the spans overlap without being the same");
  }
}

}  // namespace

void scale(std::span<float> x, float a) noexcept {
  HWY_DYNAMIC_DISPATCH(scale_f32)(x.data(), x.size(), a);
}
void scale(std::span<double> x, double a) noexcept {
  HWY_DYNAMIC_DISPATCH(scale_f64)(x.data(), x.size(), a);
}

void axpy(float a, std::span<const float> x, std::span<float> y) {
  check_pair("axpy", x, y);
  HWY_DYNAMIC_DISPATCH(axpy_f32)(a, x.data(), y.data(), y.size());
}
void axpy(double a, std::span<const double> x, std::span<double> y) {
  check_pair("axpy", x, y);
  HWY_DYNAMIC_DISPATCH(axpy_f64)(a, x.data(), y.data(), y.size());
}

void affine(std::span<const float> x, float a, float b, std::span<float> out) {
  check_pair("affine", x, out);
  HWY_DYNAMIC_DISPATCH(affine_f32)(x.data(), a, b, out.data(), out.size());
}
void affine(std::span<const double> x, double a, double b, std::span<double> out) {
  check_pair("affine", x, out);
  HWY_DYNAMIC_DISPATCH(affine_f64)(x.data(), a, b, out.data(), out.size());
}

void copy(std::span<const std::byte> source, std::span<std::byte> destination) {
  check_pair("copy", source, destination);
  if (source.data() == destination.data()) return;  // a copy onto itself: nothing to move
  if (source.size() <= kStreamingCopyBytes) {
    std::memcpy(destination.data(), source.data(), source.size());
    return;
  }
  HWY_DYNAMIC_DISPATCH(stream_copy)
  (reinterpret_cast<const std::uint8_t*>(source.data()),
   reinterpret_cast<std::uint8_t*>(destination.data()), source.size());
}

}  // namespace strata::kernels
#endif  // HWY_ONCE
