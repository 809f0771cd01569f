// SPDX-License-Identifier: Apache-2.0
// Element-wise transforms with SIMD (Highway, run-time dispatch): scale, axpy, affine, and a copy
// that switches to streaming (non-temporal) stores above kStreamingCopyBytes so large copies do
// not evict the working set from the cache. Spans of different sizes, or spans that overlap
// without being the same memory, are std::invalid_argument (kernels sit below the runtime, so
// they throw standard exceptions; the layers above turn them into strata::Error).
//
// axpy and affine use one fused multiply-add per element where the CPU has one (Highway's
// MulAdd: AVX2 and AVX-512 here) and a multiply then an add elsewhere (SSSE3, SSE4, scalar), the
// same for every element of a call. NaN and infinity follow IEEE arithmetic (0 * inf is NaN).
//
//   strata::kernels::axpy(2.0, x, y);            // y += 2 x
//   strata::kernels::affine(x, 0.5, 1.0, out);   // out = 0.5 x + 1
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace strata::kernels {

// Above this a copy uses streaming stores: larger than a typical L2 slice per core, so the data
// would not be reused from cache anyway.
inline constexpr std::size_t kStreamingCopyBytes = std::size_t{4} << 20;

void scale(std::span<float> x, float a) noexcept;                              // x = a x
void scale(std::span<double> x, double a) noexcept;
// In place is allowed: axpy's y, or affine's out, may be x itself (the very same span).
void axpy(float a, std::span<const float> x, std::span<float> y);             // y = a x + y
void axpy(double a, std::span<const double> x, std::span<double> y);
void affine(std::span<const float> x, float a, float b, std::span<float> out);    // out = a x + b
void affine(std::span<const double> x, double a, double b, std::span<double> out);
// memcpy up to kStreamingCopyBytes; above, streaming stores followed by a store fence. The
// spans must have the same size and must not overlap (copying a span onto itself does nothing).
void copy(std::span<const std::byte> source, std::span<std::byte> destination);

}  // namespace strata::kernels
