// SPDX-License-Identifier: Apache-2.0
// Tests that io's accessors returning a view into their object cannot be called on a temporary:
// `Dataset::open(f).partition(r, n).as<float>()` compiled and left a span into a destroyed
// partition. Checked at compile time with concepts; the test body shows the lvalue forms work.
#include <gtest/gtest.h>

#include <utility>

#include "strata/io/dataset/dataset.hpp"
#include "strata/io/format/strata_file.hpp"

namespace {

using strata::io::ArrayInfo;
using strata::io::Partition;
using strata::io::StrataFile;

// Each is true when the call compiles on a P (P = X: a temporary; P = X&: a variable).
template <class P>
concept AsFloat = requires {
  std::declval<P>().template as<float>();
};
template <class P>
concept AllBytes = requires {
  std::declval<P>().bytes();
};
template <class P>
concept SomeBytes = requires {
  std::declval<P>().bytes(0, 8);
};
template <class P>
concept ArrayBytes = requires(const ArrayInfo& a) {
  std::declval<P>().bytes(a, 0, 8);
};
template <class P>
concept WritableBytes = requires(const ArrayInfo& a) {
  std::declval<P>().writable(a, 0, 8);
};

static_assert(!AsFloat<Partition> && !AsFloat<const Partition>);
static_assert(!AllBytes<Partition> && !SomeBytes<Partition>);
static_assert(AsFloat<Partition&> && AsFloat<const Partition&>);
static_assert(AllBytes<const Partition&> && SomeBytes<const Partition&>);
static_assert(!ArrayBytes<StrataFile> && !WritableBytes<StrataFile>);
static_assert(ArrayBytes<const StrataFile&> && WritableBytes<StrataFile&>);

// Proves the static_asserts above were compiled into this binary: the rvalue views are refused
// while the lvalue ones remain (a build without them would not reach this test).
TEST(ViewLifetime, IoViewsNeedANamedObject) {
  EXPECT_FALSE(AsFloat<Partition>);
  EXPECT_TRUE(AsFloat<Partition&>);
}

}  // namespace
