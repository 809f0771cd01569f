// SPDX-License-Identifier: Apache-2.0
// Several accumulators as one, so a single pass over the data computes all their results: each
// chunk is read from memory once, and every member adds the whole chunk in turn while it is still
// in cache. Members are any Accumulators — the kernels' Stats and Histogram, CountIf, or a type of
// your own — and each gives the bits it gives alone with the same chunking, because every member
// sees the same chunks and merges along the same tree.
//
//   auto [s, h, n] = strata::reduce<double>(ex, part, strata::combine(
//       strata::kernels::Stats{}, strata::kernels::Histogram(0.0, 100.0, 64),
//       strata::kernels::CountIf<double>(strata::kernels::Compare::greater, 90.0)));
//   auto all = rt.allreduce(strata::combine(s, h, n));   // across ranks, member by member
//   double sd = all.get<0>().stddev().value();
//
// Works wherever one accumulator does: reduce (spans, Arrays, plans, dataset partitions),
// reduce_streaming, and rt.allreduce (members travel as their bytes — trivially copyable ones —
// or as their serialize() image).
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/scheduler/parallel.hpp"

namespace strata {

namespace detail {

// A member that can cross ranks: plain bytes, or a serialize()/deserialize() pair as
// kernels::Histogram has.
template <class A>
concept SerializableMember = requires(const A& a, std::span<const std::byte> bytes) {
  { a.serialize() } -> std::convertible_to<std::vector<std::byte>>;
  { A::deserialize(bytes) } -> std::convertible_to<A>;
};
template <class A>
concept TransferableMember = std::is_trivially_copyable_v<A> || SerializableMember<A>;

}  // namespace detail

// The accumulators As..., added and merged member by member in declaration order. Tuple-like:
// get<I>(), structured bindings, std::tuple_size.
template <class... As>
class Combined {
  static_assert(sizeof...(As) > 0, "combine at least one accumulator");

 public:
  Combined() = default;
  explicit Combined(As... members) : members_(std::move(members)...) {}

  // Each member adds the whole span, in order. Exists for every T that every member takes.
  template <class T>
  requires(Accumulator<As, T>&&...) void add(std::span<const T> values) {
    std::apply([values](As&... m) { (m.add(values), ...); }, members_);
  }

  // Each member merges the other's member at the same place, in order. What a member's merge
  // throws (Histograms of different bins) reaches the caller.
  void merge(const Combined& other) { merge_members(other, std::index_sequence_for<As...>{}); }

  template <std::size_t I>
  auto& get() & noexcept {
    return std::get<I>(members_);
  }
  template <std::size_t I>
  const auto& get() const& noexcept {
    return std::get<I>(members_);
  }
  template <std::size_t I>
  auto&& get() && noexcept {
    return std::get<I>(std::move(members_));
  }

  // For moving between ranks (rt.allreduce): per member in order, a little-endian u64 byte count
  // and then the member's bytes (its object image if trivially copyable, else its serialize()).
  std::vector<std::byte> serialize() const requires(detail::TransferableMember<As>&&...) {
    std::vector<std::byte> out;
    std::apply([&out](const As&... m) { (append_member(out, m), ...); }, members_);
    return out;
  }
  // The inverse of serialize(); Error(corrupt_data) when the image is malformed (what a member's
  // own deserialize throws reaches the caller).
  static Combined deserialize(std::span<const std::byte> bytes) requires(
      detail::TransferableMember<As>&&...) {
    std::size_t offset = 0;
    // A braced list evaluates left to right, so members are read in order.
    Combined result{read_member<As>(bytes, offset)...};
    if (offset != bytes.size()) malformed("trailing bytes", bytes.size());
    return result;
  }

 private:
  template <std::size_t... I>
  void merge_members(const Combined& other, std::index_sequence<I...>) {
    (std::get<I>(members_).merge(std::get<I>(other.members_)), ...);
  }

  template <class A>
  static void append_member(std::vector<std::byte>& out, const A& member) {
    std::vector<std::byte> image;
    if constexpr (std::is_trivially_copyable_v<A>) {
      const auto* p = reinterpret_cast<const std::byte*>(&member);
      image.assign(p, p + sizeof(A));
    } else {
      image = member.serialize();
    }
    const std::uint64_t size = image.size();
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<std::byte>(size >> (8 * b)));
    out.insert(out.end(), image.begin(), image.end());
  }

  template <class A>
  static A read_member(std::span<const std::byte> bytes, std::size_t& offset) {
    if (bytes.size() - offset < 8) malformed("member size past the end", bytes.size());
    std::uint64_t size = 0;
    for (int b = 0; b < 8; ++b) {
      size |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[offset + b])} << (8 * b);
    }
    offset += 8;
    if (size > bytes.size() - offset) malformed("member bytes past the end", bytes.size());
    const std::span<const std::byte> image = bytes.subspan(offset, size);
    offset += size;
    if constexpr (std::is_trivially_copyable_v<A>) {
      if (size != sizeof(A)) malformed("member of the wrong size", bytes.size());
      std::array<std::byte, sizeof(A)> raw;
      std::memcpy(raw.data(), image.data(), sizeof(A));
      return std::bit_cast<A>(raw);
    } else {
      return A::deserialize(image);
    }
  }

  [[noreturn]] static void malformed(const char* what, std::size_t size) {
    throw Error(ErrorCategory::corrupt_data, std::string("combined accumulator image: ") + what,
                {{"bytes", std::to_string(size)}});
  }

  std::tuple<As...> members_;
};

// Combined<As...> of copies of the given accumulators (each empty: an identity of its merge, as
// reduce's init must be).
template <class... As>
Combined<std::decay_t<As>...> combine(As&&... members) {
  return Combined<std::decay_t<As>...>(std::forward<As>(members)...);
}

}  // namespace strata

template <class... As>
struct std::tuple_size<strata::Combined<As...>>
    : std::integral_constant<std::size_t, sizeof...(As)> {};

template <std::size_t I, class... As>
struct std::tuple_element<I, strata::Combined<As...>> {
  using type = std::tuple_element_t<I, std::tuple<As...>>;
};
