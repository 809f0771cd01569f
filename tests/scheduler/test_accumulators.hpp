// SPDX-License-Identifier: Apache-2.0
// Small accumulators for the scheduler tests: an order-sensitive floating sum (so any change in
// merge order shows in the bits) and an exact integer sum, standing in for kernels::Stats; and
// values whose floating sum shows the order they were added in.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

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

// Values whose magnitudes span 16 decades with random signs: their floating sum changes with
// almost any change of order, so equal bits mean equal order.
inline std::vector<double> order_sensitive_values(std::size_t n) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exponent(-8.0, 8.0);
  std::vector<double> v(n);
  for (auto& x : v) x = ((rng() & 1) ? 1.0 : -1.0) * std::pow(10.0, exponent(rng));
  return v;
}

}  // namespace strata::testing
