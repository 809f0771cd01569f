// SPDX-License-Identifier: Apache-2.0
// Array<T>: an n-dimensional array (up to 8 dimensions) in a placed region, split by its first
// dimension into one block per NUMA node according to its PlacementPlan. Simulations allocate
// their state as Arrays (through MemoryManager::array), the scheduler walks their blocks, and the
// checkpointer protects them through the untyped ArrayStorage.
//
//   auto u = rt.memory().array<double>("u", {ny + 2, nx});
//   u(1, 0) = 3.0;                       // row-major indexing
//   for (const auto& b : u.plan().blocks()) process(u.rows(b.first_row, b.rows));
#pragma once

#include <array>
#include <span>
#include <string>
#include <utility>

#include "strata/runtime/base/assert.hpp"
#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/memory/placed_region.hpp"
#include "strata/runtime/memory/placement_plan.hpp"

namespace strata {

// The type-independent part of an array: name, dtype, shape, memory and plan.
class ArrayStorage {
 public:
  ArrayStorage() = default;
  ArrayStorage(std::string name, DType dtype, Shape shape, PlacedRegion region, PlacementPlan plan)
      : name_(std::move(name)),
        dtype_(dtype),
        shape_(shape),
        region_(std::move(region)),
        plan_(std::move(plan)) {}

  const std::string& name() const noexcept { return name_; }
  DType dtype() const noexcept { return dtype_; }
  const Shape& shape() const noexcept { return shape_; }
  std::size_t bytes() const noexcept { return shape_.element_count() * dtype_bytes(dtype_); }
  // Views into the memory this object owns: not on a temporary (it would free them).
  std::byte* data() const& noexcept { return region_.data(); }
  std::byte* data() const&& = delete;
  const PlacedRegion& region() const noexcept { return region_; }
  PlacedRegion& region() noexcept { return region_; }
  const PlacementPlan& plan() const noexcept { return plan_; }
  std::span<std::byte> byte_span() const& noexcept { return {region_.data(), bytes()}; }
  std::span<std::byte> byte_span() const&& = delete;

 private:
  std::string name_;
  DType dtype_ = DType::u8;
  Shape shape_;
  PlacedRegion region_;
  PlacementPlan plan_;
};

template <class T>
class Array {
 public:
  Array() = default;
  explicit Array(ArrayStorage storage) : storage_(std::move(storage)) {
    if (storage_.dtype() != dtype_of<T>()) {
      throw Error(ErrorCategory::invalid_argument, "array dtype does not match its element type",
                  {{"array", storage_.name()}, {"dtype", std::string(to_string(storage_.dtype()))}});
    }
    const Shape& s = storage_.shape();
    std::size_t stride = 1;
    for (std::size_t d = s.rank(); d-- > 0;) {
      strides_[d] = stride;
      stride *= s[d];
    }
  }

  const std::string& name() const noexcept { return storage_.name(); }
  static constexpr DType dtype() noexcept { return dtype_of<T>(); }
  const Shape& shape() const noexcept { return storage_.shape(); }
  std::size_t size() const noexcept { return storage_.shape().element_count(); }
  std::size_t bytes() const noexcept { return storage_.bytes(); }
  // Views into the memory this array owns: not on a temporary array (it would free them).
  T* data() const& noexcept { return reinterpret_cast<T*>(storage_.data()); }
  T* data() const&& = delete;
  std::span<T> span() const& noexcept { return {data(), size()}; }
  std::span<T> span() const&& = delete;
  const PlacementPlan& plan() const noexcept { return storage_.plan(); }
  const PlacedRegion& region() const noexcept { return storage_.region(); }
  const ArrayStorage& storage() const noexcept { return storage_; }
  ArrayStorage& storage() noexcept { return storage_; }

  // Rows [first, first + count) of the first dimension, contiguous. Throws Error(invalid_argument)
  // when out of range.
  std::span<T> rows(std::size_t first, std::size_t count) const&& = delete;
  std::span<T> rows(std::size_t first, std::size_t count) const& {
    std::size_t nrows = shape().rank() == 0 ? 1 : shape()[0];
    if (first > nrows || count > nrows - first) {
      throw Error(ErrorCategory::invalid_argument, "row range out of bounds",
                  {{"array", name()}, {"first", std::to_string(first)},
                   {"count", std::to_string(count)}, {"rows", std::to_string(nrows)}});
    }
    std::size_t row = shape().row_elements();
    return {data() + first * row, count * row};
  }

  // Row-major element access; one index per dimension (checked by assert in debug builds).
  template <class... I>
  T& operator()(I... index) const noexcept {
    STRATA_ASSERT(sizeof...(I) == shape().rank());
    std::array<std::size_t, sizeof...(I)> idx{static_cast<std::size_t>(index)...};
    std::size_t offset = 0;
    for (std::size_t d = 0; d < sizeof...(I); ++d) {
      STRATA_ASSERT(idx[d] < shape()[d]);
      offset += idx[d] * strides_[d];
    }
    return data()[offset];
  }

 private:
  ArrayStorage storage_;
  std::array<std::size_t, Shape::kMaxRank> strides_{};
};

}  // namespace strata
