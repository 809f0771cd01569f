// SPDX-License-Identifier: Apache-2.0
// Small accumulators for the scheduler tests: an order-sensitive floating sum (so any change in
// merge order shows in the bits) and an exact integer sum, standing in for kernels::Stats.
#pragma once

#include <cstdint>
#include <span>

namespace strata::testing {

// Naive left-to-right double sum: its bits depend on the order values and partials are combined.
struct FloatSum {
  double sum = 0.0;
  std::uint64_t count = 0;
  void add(std::span<const double> values) {
    for (double v : values) sum += v;
    count += values.size();
  }
  void merge(const FloatSum& other) {
    sum += other.sum;
    count += other.count;
  }
};

// Exact integer sum, plus the sum of squares, so a lost or repeated chunk always shows.
struct IntSum {
  std::int64_t sum = 0;
  std::int64_t squares = 0;
  std::uint64_t count = 0;
  void add(std::span<const std::int64_t> values) {
    for (std::int64_t v : values) {
      sum += v;
      squares += v * v;
    }
    count += values.size();
  }
  void merge(const IntSum& other) {
    sum += other.sum;
    squares += other.squares;
    count += other.count;
  }
};

}  // namespace strata::testing
