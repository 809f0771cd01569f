// SPDX-License-Identifier: Apache-2.0
// Byte shuffle and unshuffle (see shuffle.hpp), one source compiled per Highway target and
// dispatched at run time. 2- and 4-byte elements are Highway's de-interleaving loads and
// interleaving stores; 8-byte elements de-interleave as four u16 planes, each split into its low
// and high bytes (ConcatEven/ConcatOdd), and come back through zero-extended halves. Elements
// past the last whole vector, and other element sizes, take the scalar loop.
#include "strata/kernels/shuffle.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "shuffle.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#ifndef STRATA_KERNELS_SHUFFLE_SCALAR
#define STRATA_KERNELS_SHUFFLE_SCALAR
namespace strata::kernels::detail {

// Elements [from, count) of either direction, one byte at a time.
inline void shuffle_scalar(const std::uint8_t* in, std::size_t count, std::size_t k_bytes,
                           std::size_t from, std::uint8_t* out, bool shuffle) {
  for (std::size_t i = from; i < count; ++i) {
    for (std::size_t k = 0; k < k_bytes; ++k) {
      if (shuffle) {
        out[k * count + i] = in[i * k_bytes + k];
      } else {
        out[i * k_bytes + k] = in[k * count + i];
      }
    }
  }
}

}  // namespace strata::kernels::detail
#endif

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Shuffles whole vectors' worth of the `count` elements; returns how many it did.
std::size_t shuffle_vectors(const std::uint8_t* HWY_RESTRICT in, std::size_t count,
                            std::size_t k_bytes, std::uint8_t* HWY_RESTRICT out) {
  const hn::ScalableTag<std::uint8_t> d8;
  const std::size_t lanes = hn::Lanes(d8);
  std::size_t i = 0;
  if (k_bytes == 2) {
    for (; i + lanes <= count; i += lanes) {
      hn::Vec<decltype(d8)> p0, p1;
      hn::LoadInterleaved2(d8, in + 2 * i, p0, p1);
      hn::StoreU(p0, d8, out + i);
      hn::StoreU(p1, d8, out + count + i);
    }
  } else if (k_bytes == 4) {
    for (; i + lanes <= count; i += lanes) {
      hn::Vec<decltype(d8)> p0, p1, p2, p3;
      hn::LoadInterleaved4(d8, in + 4 * i, p0, p1, p2, p3);
      hn::StoreU(p0, d8, out + i);
      hn::StoreU(p1, d8, out + count + i);
      hn::StoreU(p2, d8, out + 2 * count + i);
      hn::StoreU(p3, d8, out + 3 * count + i);
    }
  } else if (k_bytes == 8 && HWY_TARGET != HWY_SCALAR) {
#if HWY_TARGET != HWY_SCALAR  // one-lane vectors have no halves or concatenations
    const hn::Repartition<std::uint16_t, decltype(d8)> d16;
    const std::size_t half = hn::Lanes(d16);  // elements per LoadInterleaved4 of u16
    for (; i + lanes <= count; i += lanes) {
      hn::Vec<decltype(d16)> a[4], b[4];
      const auto* at = reinterpret_cast<const std::uint16_t*>(in + 8 * i);
      hn::LoadInterleaved4(d16, at, a[0], a[1], a[2], a[3]);
      hn::LoadInterleaved4(d16, at + 4 * half, b[0], b[1], b[2], b[3]);
      for (std::size_t j = 0; j < 4; ++j) {
        const auto lo = hn::BitCast(d8, a[j]);
        const auto hi = hn::BitCast(d8, b[j]);
        hn::StoreU(hn::ConcatEven(d8, hi, lo), d8, out + (2 * j) * count + i);
        hn::StoreU(hn::ConcatOdd(d8, hi, lo), d8, out + (2 * j + 1) * count + i);
      }
    }
#endif
  }
  return i;
}

std::size_t unshuffle_vectors(const std::uint8_t* HWY_RESTRICT in, std::size_t count,
                              std::size_t k_bytes, std::uint8_t* HWY_RESTRICT out) {
  const hn::ScalableTag<std::uint8_t> d8;
  const std::size_t lanes = hn::Lanes(d8);
  std::size_t i = 0;
  if (k_bytes == 2) {
    for (; i + lanes <= count; i += lanes) {
      hn::StoreInterleaved2(hn::LoadU(d8, in + i), hn::LoadU(d8, in + count + i), d8, out + 2 * i);
    }
  } else if (k_bytes == 4) {
    for (; i + lanes <= count; i += lanes) {
      hn::StoreInterleaved4(hn::LoadU(d8, in + i), hn::LoadU(d8, in + count + i),
                            hn::LoadU(d8, in + 2 * count + i), hn::LoadU(d8, in + 3 * count + i),
                            d8, out + 4 * i);
    }
  } else if (k_bytes == 8 && HWY_TARGET != HWY_SCALAR) {
#if HWY_TARGET != HWY_SCALAR
    const hn::Half<decltype(d8)> dh8;
    const hn::Rebind<std::uint16_t, decltype(dh8)> d16;  // a whole vector of u16
    const std::size_t half = hn::Lanes(d16);
    for (; i + lanes <= count; i += lanes) {
      hn::Vec<decltype(d16)> lo[4], hi[4];
      for (std::size_t j = 0; j < 4; ++j) {
        const auto even = hn::LoadU(d8, in + (2 * j) * count + i);     // byte 2j of each element
        const auto odd = hn::LoadU(d8, in + (2 * j + 1) * count + i);  // byte 2j + 1
        lo[j] = hn::Or(hn::PromoteTo(d16, hn::LowerHalf(dh8, even)),
                       hn::ShiftLeft<8>(hn::PromoteTo(d16, hn::LowerHalf(dh8, odd))));
        hi[j] = hn::Or(hn::PromoteTo(d16, hn::UpperHalf(dh8, even)),
                       hn::ShiftLeft<8>(hn::PromoteTo(d16, hn::UpperHalf(dh8, odd))));
      }
      auto* at = reinterpret_cast<std::uint16_t*>(out + 8 * i);
      hn::StoreInterleaved4(lo[0], lo[1], lo[2], lo[3], d16, at);
      hn::StoreInterleaved4(hi[0], hi[1], hi[2], hi[3], d16, at + 4 * half);
    }
#endif
  }
  return i;
}

void shuffle_bytes(const std::uint8_t* HWY_RESTRICT in, std::size_t count, std::size_t k_bytes,
                   std::uint8_t* HWY_RESTRICT out) {
  const std::size_t done = shuffle_vectors(in, count, k_bytes, out);
  detail::shuffle_scalar(in, count, k_bytes, done, out, true);
}

void unshuffle_bytes(const std::uint8_t* HWY_RESTRICT in, std::size_t count, std::size_t k_bytes,
                     std::uint8_t* HWY_RESTRICT out) {
  const std::size_t done = unshuffle_vectors(in, count, k_bytes, out);
  detail::shuffle_scalar(in, count, k_bytes, done, out, false);
}

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace strata::kernels {
namespace {

HWY_EXPORT(shuffle_bytes);
HWY_EXPORT(unshuffle_bytes);

// Either direction: the arguments checked, the target's loop over the whole elements, the tail
// shorter than one element copied as it is.
void regroup(const char* what, std::span<const std::byte> in, std::size_t element_bytes,
             std::span<std::byte> out,
             void (*loop)(const std::uint8_t*, std::size_t, std::size_t, std::uint8_t*)) {
  if (element_bytes == 0) throw std::invalid_argument(std::string(what) + ": element_bytes is 0");
  if (in.size() != out.size()) {
    throw std::invalid_argument(std::string(what) + ": spans of " + std::to_string(in.size()) +
                                " and " + std::to_string(out.size()) + " bytes");
  }
  const std::less<const std::byte*> before;
  if (!in.empty() && before(in.data(), out.data() + out.size()) &&
      before(out.data(), in.data() + in.size())) {
    throw std::invalid_argument(std::string(what) + ": the spans overlap");
  }
  const std::size_t count = in.size() / element_bytes;
  const std::size_t whole = count * element_bytes;
  const auto* from = reinterpret_cast<const std::uint8_t*>(in.data());
  auto* to = reinterpret_cast<std::uint8_t*>(out.data());
  loop(from, count, element_bytes, to);
  if (whole != in.size()) std::memcpy(to + whole, from + whole, in.size() - whole);
}

}  // namespace

void byte_shuffle(std::span<const std::byte> in, std::size_t element_bytes,
                  std::span<std::byte> out) {
  regroup("byte_shuffle", in, element_bytes, out, HWY_DYNAMIC_DISPATCH(shuffle_bytes));
}

void byte_unshuffle(std::span<const std::byte> in, std::size_t element_bytes,
                    std::span<std::byte> out) {
  regroup("byte_unshuffle", in, element_bytes, out, HWY_DYNAMIC_DISPATCH(unshuffle_bytes));
}

}  // namespace strata::kernels
#endif  // HWY_ONCE
