// SPDX-License-Identifier: Apache-2.0
// Byte shuffle with SIMD (Highway, run-time dispatch): the bytes of fixed-size elements regrouped
// by significance, as HDF5's shuffle filter and Blosc do before compression. Smooth numeric data
// (a simulation field of doubles) then has long runs of equal high bytes, which zstd compresses
// smaller and faster. byte_unshuffle is the exact inverse.
//
// For `element_bytes` = K and count = in.size() / K whole elements, byte k of element i goes to
// out[k * count + i]; a tail shorter than one element is copied as it is. 2-, 4- and 8-byte
// elements run vectorised; any other size (1, 3, 16, ...) is done one byte at a time. Spans of
// different sizes, overlapping spans or element_bytes 0 are std::invalid_argument.
//
//   std::vector<std::byte> planes(raw.size());
//   strata::kernels::byte_shuffle(raw, sizeof(double), planes);
#pragma once

#include <cstddef>
#include <span>

namespace strata::kernels {

void byte_shuffle(std::span<const std::byte> in, std::size_t element_bytes,
                  std::span<std::byte> out);
void byte_unshuffle(std::span<const std::byte> in, std::size_t element_bytes,
                    std::span<std::byte> out);

}  // namespace strata::kernels
