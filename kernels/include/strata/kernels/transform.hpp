// Element-wise transforms with SIMD (Highway, run-time dispatch): scale, axpy, affine, and a copy
// that switches to streaming (non-temporal) stores above kStreamingCopyBytes so large copies do
// not evict the working set from the cache. Spans of different sizes are std::invalid_argument (kernels sit below the runtime, so they throw
// standard exceptions; the layers above turn them into strata::Error).
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
void axpy(float a, std::span<const float> x, std::span<float> y);             // y = a x + y
void axpy(double a, std::span<const double> x, std::span<double> y);
void affine(std::span<const float> x, float a, float b, std::span<float> out);    // out = a x + b
void affine(std::span<const double> x, double a, double b, std::span<double> out);
void copy(std::span<const std::byte> source, std::span<std::byte> destination);

}  // namespace strata::kernels
