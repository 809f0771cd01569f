// SPDX-License-Identifier: Apache-2.0
// Tests of synthetic dataset generation: determinism independent of threads, and the
// distributions it promises, checked by statistics computed here from the file's bytes.
#include "strata/io/dataset/synthetic.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "strata/io/format/strata_file.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

namespace fs = std::filesystem;
using strata::io::SyntheticKind;
using strata::io::SyntheticOptions;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("strata-syn-" + std::to_string(getpid()) + "-" + name)).string();
}

template <class T>
std::vector<T> read_all(const std::string& path, const std::string& array) {
  auto f = strata::io::StrataFile::open(path);
  const auto& a = f.array(array);
  std::vector<T> out(a.data_bytes / sizeof(T));
  f.read(a, 0, std::as_writable_bytes(std::span(out)));
  return out;
}

// Proves the bytes depend on the seed alone: 1 thread and 2 threads give identical files' data,
// and another seed gives different data.
TEST(Synthetic, DeterministicAcrossThreadCounts) {
  SyntheticOptions o{.kind = SyntheticKind::normal, .bytes = 3u << 20, .seed = 9, .chunk_bytes = 64 << 10};
  o.threads = 1;
  strata::io::generate_dataset(temp("a"), o);
  o.threads = 2;
  strata::io::generate_dataset(temp("b"), o);
  o.seed = 10;
  strata::io::generate_dataset(temp("c"), o);
  auto a = read_all<double>(temp("a"), "values");
  auto b = read_all<double>(temp("b"), "values");
  auto c = read_all<double>(temp("c"), "values");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (auto n : {"a", "b", "c"}) fs::remove(temp(n));
}

// Proves uniform values lie in [low, high) with the mean and variance of a uniform distribution.
TEST(Synthetic, UniformHasItsMoments) {
  strata::io::generate_dataset(temp("u"), {.kind = SyntheticKind::uniform, .bytes = 8u << 20, .low = -2, .high = 6});
  auto v = read_all<double>(temp("u"), "values");
  fs::remove(temp("u"));
  ASSERT_EQ(v.size(), 1u << 20);
  long double sum = 0, sq = 0;
  for (double x : v) {
    ASSERT_GE(x, -2.0);
    ASSERT_LT(x, 6.0);
    sum += x;
    sq += (long double)x * x;
  }
  double mean = double(sum / v.size());
  double var = double(sq / v.size()) - mean * mean;
  EXPECT_NEAR(mean, 2.0, 0.02);           // sd of the mean: 8/sqrt(12 n) = 0.0023
  EXPECT_NEAR(var, 64.0 / 12.0, 0.05);
}

// Proves normal values have mean (low+high)/2 and sd (high-low)/8.
TEST(Synthetic, NormalHasItsMoments) {
  strata::io::generate_dataset(temp("n"), {.kind = SyntheticKind::normal, .bytes = 8u << 20});
  auto v = read_all<double>(temp("n"), "values");
  fs::remove(temp("n"));
  long double sum = 0, sq = 0;
  for (double x : v) {
    sum += x;
    sq += (long double)x * x;
  }
  double mean = double(sum / v.size());
  double sd = std::sqrt(double(sq / v.size()) - mean * mean);
  EXPECT_NEAR(mean, 50.0, 0.1);
  EXPECT_NEAR(sd, 12.5, 0.1);
}

// Proves particle datasets have four consistent arrays and ids counting from 0.
TEST(Synthetic, ParticlesAreConsistent) {
  auto r = strata::io::generate_dataset(temp("p"), {.kind = SyntheticKind::particles, .bytes = 1u << 20,
                                                    .chunk_bytes = 16 << 10});
  auto f = strata::io::StrataFile::open(temp("p"));
  ASSERT_EQ(f.arrays().size(), 4u);
  EXPECT_EQ(f.array("position").shape, (strata::Shape{r.elements, 3}));
  EXPECT_EQ(f.array("velocity").dtype, strata::DType::f32);
  auto ids = read_all<std::uint64_t>(temp("p"), "id");
  for (std::uint64_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], i);
  auto energy = read_all<double>(temp("p"), "energy");
  for (double e : energy) ASSERT_GE(e, 0.0);
  fs::remove(temp("p"));
}

// Proves integer dtypes get integers in range, and impossible ranges are refused.
TEST(Synthetic, IntegerRangesAndErrors) {
  strata::io::generate_dataset(temp("i"), {.bytes = 1u << 16, .dtype = strata::DType::u8, .low = 10, .high = 20});
  auto v = read_all<std::uint8_t>(temp("i"), "values");
  fs::remove(temp("i"));
  for (auto x : v) {
    ASSERT_GE(x, 10);
    ASSERT_LT(x, 20);
  }
  EXPECT_THROW(strata::io::generate_dataset(temp("x"), {.dtype = strata::DType::u8, .low = 0, .high = 1000}),
               strata::Error);
  EXPECT_THROW(strata::io::generate_dataset(temp("x"), {.low = 5, .high = 5}), strata::Error);
  EXPECT_FALSE(fs::exists(temp("x")));
}

// Proves the thread count is checked as an Executor checks it, before anything is written: an
// absurd count (once a SIGSEGV in oneTBB's arena teardown) and a bad STRATA_THREADS are errors
// naming the count, and 0 means all allowed CPUs rather than an unchecked default arena.
TEST(Synthetic, ThreadCountsAreCheckedBeforeWriting) {
  unsetenv("STRATA_THREADS");
  for (unsigned threads : {100000u, 4294967295u}) {
    try {
      strata::io::generate_dataset(temp("t"), {.bytes = 1u << 16, .threads = threads});
      ADD_FAILURE() << threads << " threads were accepted";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
      EXPECT_EQ(e.context_value("threads"), std::to_string(threads));
    }
    EXPECT_FALSE(fs::exists(temp("t")));
  }
  setenv("STRATA_THREADS", "100000", 1);
  try {
    strata::io::generate_dataset(temp("t"), {.bytes = 1u << 16, .threads = 0});
    ADD_FAILURE() << "STRATA_THREADS=100000 was accepted";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::config);
    EXPECT_EQ(e.context_value("variable"), "STRATA_THREADS");
  }
  unsetenv("STRATA_THREADS");
  EXPECT_FALSE(fs::exists(temp("t")));
  strata::io::generate_dataset(temp("t"), {.bytes = 1u << 16, .threads = 0});
  EXPECT_TRUE(strata::io::StrataFile::open(temp("t")).verify(0).ok());
  fs::remove(temp("t"));
}

}  // namespace
