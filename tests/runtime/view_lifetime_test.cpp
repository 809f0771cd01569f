// SPDX-License-Identifier: Apache-2.0
// Tests that runtime's accessors returning a view into their object (a mapping, placed memory, an
// Error's context) cannot be called on a temporary, where the view would dangle at once. Checked
// at compile time with concepts; the test body shows the lvalue forms work.
#include <gtest/gtest.h>

#include <utility>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_file.hpp"
#include "strata/runtime/files/mapped_view_cache.hpp"
#include "strata/runtime/files/shared_segment.hpp"
#include "strata/runtime/memory/array.hpp"
#include "strata/runtime/memory/placed_region.hpp"

namespace {

// Each is true when the call compiles on a P (P = X: a temporary; P = X&: a variable).
template <class P>
concept Data = requires {
  std::declval<P>().data();
};
template <class P>
concept Span = requires {
  std::declval<P>().span();
};
template <class P>
concept Rows = requires {
  std::declval<P>().rows(0, 1);
};
template <class P>
concept ByteSpan = requires {
  std::declval<P>().byte_span();
};
template <class P>
concept AllBytes = requires {
  std::declval<P>().bytes();
};
template <class P>
concept RangeBytes = requires {
  std::declval<P>().bytes(0, 8);
};
template <class P>
concept WritableBytes = requires {
  std::declval<P>().writable_bytes(0, 8);
};
template <class P>
concept ContextValue = requires {
  std::declval<P>().context_value("file");
};

using strata::Array;
using strata::ArrayStorage;
using strata::Error;
using strata::MappedFile;
using strata::MappedView;
using strata::PlacedRegion;
using strata::SharedSegment;

static_assert(!RangeBytes<MappedFile> && !WritableBytes<MappedFile>);
static_assert(RangeBytes<const MappedFile&> && WritableBytes<MappedFile&>);
static_assert(!AllBytes<MappedView> && AllBytes<const MappedView&>);
static_assert(!Data<SharedSegment> && !AllBytes<SharedSegment>);
static_assert(Data<const SharedSegment&> && AllBytes<const SharedSegment&>);
static_assert(!Data<PlacedRegion> && Data<const PlacedRegion&>);
static_assert(!Data<ArrayStorage> && !ByteSpan<ArrayStorage>);
static_assert(Data<const ArrayStorage&> && ByteSpan<const ArrayStorage&>);
static_assert(!Data<Array<double>> && !Span<Array<double>> && !Rows<Array<double>>);
static_assert(Data<Array<double>&> && Span<const Array<double>&> && Rows<Array<double>&>);
static_assert(!ContextValue<Error> && ContextValue<const Error&>);

// Proves a context value is still read from a named Error (the form every catch block uses),
// while the static_asserts above refuse it on a temporary.
TEST(ViewLifetime, RuntimeViewsNeedANamedObject) {
  const Error e(strata::ErrorCategory::io, "x", {{"file", "a.h5"}});
  EXPECT_EQ(e.context_value("file"), "a.h5");
  EXPECT_FALSE(ContextValue<Error>);
}

}  // namespace
