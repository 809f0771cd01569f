// SPDX-License-Identifier: Apache-2.0
// Streaming statistics: count, sum, min, max, mean and variance of a span, computed with SIMD
// (Highway, dispatched at run time) and numerically sound — compensated/pairwise sums within a
// span, Chan et al.'s pairwise update when partial results merge — so results over 10^8 values
// agree with a long-double reference to 1e-12 relative, whatever the chunking or rank count.
//
//   strata::kernels::Stats s;
//   s.add(std::span<const double>(values));     // any number of times, any chunking
//   s.merge(other);                             // partial results from other threads or ranks
//   std::optional<double> sd = s.stddev();      // std::nullopt: no values (empty or all NaN)
//   strata::kernels::StatsSummary r = s.summary();  // every result, exact or marked absent
//
// How: a span is cut into blocks of 2048 values; each block gets two passes while it sits in L1
// (its mean, then the deviations from it), so a large common offset never enters m2. Blocks merge
// pairwise (a binary tree), and `sum` travels with its rounding error in `sum_low`. f32 values
// accumulate in f64; integers are converted to f64 for the moments (exact up to 2^53 in
// magnitude) and are also summed exactly. docs/kernels.md has the details.
//
// What is a value: NaNs are not — they are counted in nan_count and skipped. Infinities are:
// they are counted (pos_inf_count, neg_inf_count) and enter min and max; the sum and mean become
// +-inf (NaN when both signs occur, as in NumPy) and the variance NaN. Finite values whose sum or
// sum of squared deviations leaves the double range give +-inf there, never a finite wrong value:
// a block whose fast sum or second moment is not finite is redone in long double (whose exponent
// range no sum of doubles can leave), at no cost to ordinary blocks.
//
// Integer spans (int32, int64) are also summed exactly in 128 bits with exact int64 min and max:
// summary() reports them when every value came from an integer span.
//
// No value: with count == 0 (an empty input, or only NaNs) there is no mean, variance, min or
// max. summary(), variance(), sample_variance() and stddev() say so with std::nullopt; the raw
// fields then hold the identities of the reduction (min +inf, max -inf, mean 0), which are not
// results. Read results through summary().
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>

namespace strata::kernels {

// A signed 128-bit integer (a GCC and Clang built-in). It holds the exact sum of any number of
// int64 values a Stats can count: |sum| <= 2^63 * 2^64 = 2^127.
__extension__ typedef __int128 Int128;

// Decimal text of v: "-170141183460469231731687303715884105728".
std::string to_decimal(Int128 v);

// What a Stats reports, every field either exact (to double rounding) or explicitly absent.
struct StatsSummary {
  std::uint64_t count = 0;          // values: finite and infinite, NaNs excluded
  std::uint64_t nan_count = 0;      // NaNs seen
  std::uint64_t pos_inf_count = 0;  // +inf values seen
  std::uint64_t neg_inf_count = 0;  // -inf values seen
  // 0 for no values; +inf or -inf with infinities of one sign, NaN with both; +-inf also when
  // the sum of finite values leaves the double range. Integer data: the exact sum, rounded once.
  double sum = 0.0;
  // std::nullopt when count == 0: no such value exists. min and max are exact (integer data:
  // the exact int64 rounded once, see integer_min); mean and variance are +-inf/NaN as the
  // class comment says, and variance is +inf when the sum of squared deviations (m2) leaves the
  // double range, even where m2 / count would fit.
  std::optional<double> min, max, mean;
  std::optional<double> variance;         // m2 / count
  std::optional<double> sample_variance;  // m2 / (count - 1); std::nullopt also for count == 1
  std::optional<double> stddev;           // sqrt(variance)
  // Present when count > 0 and every value came from an int32 or int64 span: exact.
  std::optional<Int128> integer_sum;
  std::optional<std::int64_t> integer_min, integer_max;
};

struct Stats {
  std::uint64_t count = 0;          // values seen, NaNs excluded, infinities included
  std::uint64_t nan_count = 0;      // NaNs seen (floating types only)
  std::uint64_t pos_inf_count = 0;  // +inf values seen
  std::uint64_t neg_inf_count = 0;  // -inf values seen
  double sum = 0.0;                 // the best double for the sum (see sum_low); +-inf on overflow
  double min = std::numeric_limits<double>::infinity();   // the identity while count == 0
  double max = -std::numeric_limits<double>::infinity();  // the identity while count == 0
  double mean = 0.0;
  double m2 = 0.0;  // sum of squared deviations from the mean; +inf when it overflows
  // The rounding error of `sum` (sum + sum_low is the sum to about twice double precision), so
  // that merging thousands of partials keeps the sum exact to the last bit of `sum`. Send it
  // along with the other fields when partials cross ranks.
  double sum_low = 0.0;
  // Values that came from integer spans, and their exact sum, min and max.
  std::uint64_t integer_count = 0;
  // Explicit, always zero: the 8 bytes the 16-byte aligned integer_sum would leave as padding,
  // so the byte image of a Stats (what crosses ranks) holds no indeterminate bytes.
  std::uint64_t padding = 0;
  Int128 integer_sum = 0;
  std::int64_t integer_min = std::numeric_limits<std::int64_t>::max();
  std::int64_t integer_max = std::numeric_limits<std::int64_t>::min();

  // Adds every value of the span. noexcept hot path; f32 accumulates in f64.
  void add(std::span<const float> values) noexcept;
  void add(std::span<const double> values) noexcept;
  void add(std::span<const std::int32_t> values) noexcept;
  void add(std::span<const std::int64_t> values) noexcept;
  // Chan, Golub and LeVeque's pairwise combination; exact for the counts, min, max and integer
  // sum, sound for mean and m2, double-double for the sum. Merging an empty Stats changes
  // nothing but nan_count.
  void merge(const Stats& other) noexcept;

  // The results, with std::nullopt for what does not exist (count == 0; sample_variance also
  // for count == 1). See StatsSummary for the values at infinities and overflow.
  StatsSummary summary() const noexcept;
  std::optional<double> variance() const noexcept;
  std::optional<double> sample_variance() const noexcept;
  std::optional<double> stddev() const noexcept;
};
static_assert(sizeof(Stats) == 128, "Stats has no implicit padding");

}  // namespace strata::kernels
