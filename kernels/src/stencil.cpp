// SPDX-License-Identifier: Apache-2.0
// The 5-point heat-diffusion stencil over a band of rows, one source compiled per Highway target
// and dispatched at run time. Each output element is one fixed formula of its five inputs, so
// any split of the rows (threads, ranks) gives the same bits as one call.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>

#include "strata/kernels/stencil.hpp"
#include "strata/kernels/transform.hpp"  // kStreamingCopyBytes

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "stencil.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// out[j] = c[j] + alpha * ((((n[j] + s[j]) + c[j-1]) + c[j+1]) - 4 c[j]) for j in [first, last),
// lanes of d at a time. 4 c is exact, so a compiler that fuses the subtraction changes nothing;
// the final multiply-add is explicitly fused where the target has FMA.
//
// The south row is the only one not read before (north and centre were the previous rows'), so
// it is prefetched 8 KiB ahead: ~10-15% on a 256 MiB grid, one thread, in A/B runs here.
// Prefetches never fault; the address is an integer, not a pointer past the grid.
constexpr std::size_t kPrefetchAheadBytes = 8192;

template <bool kStream, class D>
HWY_INLINE void stencil_lanes(D d, const double* HWY_RESTRICT north,
                              const double* HWY_RESTRICT centre, const double* HWY_RESTRICT south,
                              double* HWY_RESTRICT out, std::size_t first, std::size_t last,
                              double alpha) {
  const auto alpha_v = hn::Set(d, alpha);
  const auto four = hn::Set(d, 4.0);
  const std::size_t lanes = hn::Lanes(d);
  for (std::size_t j = first; j + lanes <= last; j += lanes) {
    hwy::Prefetch(reinterpret_cast<const double*>(
        reinterpret_cast<std::uintptr_t>(south + j) + kPrefetchAheadBytes));
    const auto c = hn::LoadU(d, centre + j);
    const auto sum = hn::Add(hn::Add(hn::Add(hn::LoadU(d, north + j), hn::LoadU(d, south + j)),
                                     hn::LoadU(d, centre + j - 1)),
                             hn::LoadU(d, centre + j + 1));
    const auto laplacian = hn::Sub(sum, hn::Mul(four, c));
    if constexpr (kStream) {
      hn::Stream(hn::MulAdd(alpha_v, laplacian, c), d, out + j);
    } else {
      hn::StoreU(hn::MulAdd(alpha_v, laplacian, c), d, out + j);
    }
  }
}

// With kStream, each row's output goes out through streaming stores from its first
// vector-aligned column (the columns before it, and the boundary ones, are ordinary stores),
// and a store fence ends the band. The formula is the same either way: only the stores differ.
template <bool kStream>
void stencil_rows(const double* HWY_RESTRICT in, double* HWY_RESTRICT out, std::size_t nx,
                  std::size_t row_first, std::size_t row_last, double alpha) {
  const hn::ScalableTag<double> d;
  const hn::CappedTag<double, 1> d1;  // the same formula, one lane: the columns left over
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t interior_end = nx >= 2 ? nx - 1 : 1;
  for (std::size_t row = row_first; row < row_last; ++row) {
    const double* centre = in + row * nx;
    double* o = out + row * nx;
    o[0] = centre[0];  // fixed boundary columns
    o[nx - 1] = centre[nx - 1];
    std::size_t body_begin = 1;
    if constexpr (kStream) {  // one lane at a time up to an aligned output address
      const std::size_t misaligned = reinterpret_cast<std::uintptr_t>(o + 1) % (lanes * 8) / 8;
      body_begin = std::min(interior_end, 1 + (lanes - misaligned) % lanes);
      stencil_lanes<false>(d1, centre - nx, centre, centre + nx, o, 1, body_begin, alpha);
    }
    const std::size_t body_end = body_begin + (interior_end - body_begin) / lanes * lanes;
    stencil_lanes<kStream>(d, centre - nx, centre, centre + nx, o, body_begin, body_end, alpha);
    stencil_lanes<false>(d1, centre - nx, centre, centre + nx, o, body_end, interior_end, alpha);
  }
  if constexpr (kStream) hwy::FlushStream();
}

void stencil5_rows(const double* HWY_RESTRICT in, double* HWY_RESTRICT out, std::size_t nx,
                   std::size_t row_first, std::size_t row_last, double alpha, bool stream) {
  if (stream && reinterpret_cast<std::uintptr_t>(out) % 8 == 0) {
    stencil_rows<true>(in, out, nx, row_first, row_last, alpha);
  } else {
    stencil_rows<false>(in, out, nx, row_first, row_last, alpha);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace strata::kernels {
namespace {

HWY_EXPORT(stencil5_rows);

[[noreturn]] void reject(const std::string& why) {
  throw std::invalid_argument("stencil5: " + why);
}

}  // namespace

void stencil5(std::span<const double> in, std::span<double> out, std::size_t nx,
              std::size_t row_first, std::size_t row_last, double alpha) {
  if (nx == 0) reject("nx is 0");
  const std::size_t rows = in.size() / nx;
  if (row_first < 1) reject("row_first is 0: row 0 is the halo above it");
  if (row_first > row_last) {
    reject("row_first " + std::to_string(row_first) + " > row_last " + std::to_string(row_last));
  }
  if (row_last + 1 > rows) {
    reject("rows up to " + std::to_string(row_last) + " (its halo included) need " +
           std::to_string((row_last + 1) * nx) + " input elements, have " +
           std::to_string(in.size()));
  }
  if (out.size() < row_last * nx) {
    reject("rows up to " + std::to_string(row_last) + " need " + std::to_string(row_last * nx) +
           " output elements, have " + std::to_string(out.size()));
  }
  const std::less<const double*> before;
  if (before(in.data(), out.data() + out.size()) && before(out.data(), in.data() + in.size())) {
    reject("input and output overlap (a stencil reads its neighbours: use two grids)");
  }
  if (row_first == row_last) return;
  // Like copy(): an output larger than kStreamingCopyBytes will not be reread from cache, so
  // it is written around it (measured: ~0.54x -> ~0.68x of the read bandwidth, one thread).
  const bool stream = out.size_bytes() > kStreamingCopyBytes;
  HWY_DYNAMIC_DISPATCH(stencil5_rows)
  (in.data(), out.data(), nx, row_first, row_last, alpha, stream);
}

}  // namespace strata::kernels
#endif  // HWY_ONCE
