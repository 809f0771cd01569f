// SPDX-License-Identifier: Apache-2.0
// Tests of is_utf8 and printable: the checks the .strata reader and every printed name rely on.
#include "strata/runtime/base/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

// Proves well-formed UTF-8 passes and each kind of malformed sequence fails.
TEST(TextTest, IsUtf8AcceptsWellFormedAndRejectsMalformed) {
  EXPECT_TRUE(strata::is_utf8(""));
  EXPECT_TRUE(strata::is_utf8("energy"));
  EXPECT_TRUE(strata::is_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é, €, emoji
  EXPECT_TRUE(strata::is_utf8(std::string("a\0b", 3)));
  EXPECT_FALSE(strata::is_utf8("\xff"));              // never a UTF-8 byte
  EXPECT_FALSE(strata::is_utf8("\xc3"));              // truncated
  EXPECT_FALSE(strata::is_utf8("\xc3("));             // bad continuation
  EXPECT_FALSE(strata::is_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(strata::is_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(strata::is_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

// Proves printable escapes what acts on a terminal (ESC, CR, C1, bidi override, bad bytes) and
// keeps ordinary text, including non-ASCII letters, unchanged.
TEST(TextTest, PrintableEscapesControlsAndInvalidBytes) {
  EXPECT_EQ(strata::printable("energy/\xc3\xa9t\xc3\xa9 a\\b"), "energy/\xc3\xa9t\xc3\xa9 a\\b");
  EXPECT_EQ(strata::printable("x\x1b[2Jy"), "x\\x1b[2Jy");
  EXPECT_EQ(strata::printable("a\rb\nc\td\x7f"), "a\\rb\\nc\\td\\x7f");
  EXPECT_EQ(strata::printable(std::string("n\0", 2)), "n\\x00");
  EXPECT_EQ(strata::printable("\xc2\x9b"
                              "31m"),
            "\\u{009b}31m");  // C1 CSI
  EXPECT_EQ(strata::printable("\xe2\x80\xae"
                              "txt"),
            "\\u{202e}txt");  // right-to-left override
  EXPECT_EQ(strata::printable("bad\xff\xc3"), "bad\\xff\\xc3");
}

}  // namespace
