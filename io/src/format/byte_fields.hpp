// SPDX-License-Identifier: Apache-2.0
// Fixed-width little-endian fields of strata's binary formats (.strata headers, checkpoint shard
// headers and chunk indexes, XOR parity files), copied byte-wise so no alignment is assumed. The
// caller has checked that `at + sizeof(T)` lies within the bytes.
#pragma once

#include <bit>
#include <cstddef>
#include <cstring>
#include <span>

namespace strata::io::detail {

static_assert(std::endian::native == std::endian::little,
              "strata's binary formats are little-endian; a big-endian port needs byte swaps here");

template <class T>
void put_le(std::span<std::byte> out, std::size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof(T));
}

template <class T>
T get_le(std::span<const std::byte> in, std::size_t at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof(T));
  return value;
}

}  // namespace strata::io::detail
