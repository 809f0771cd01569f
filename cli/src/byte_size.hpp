// SPDX-License-Identifier: Apache-2.0
// Sizes on the command line: "4096", "64K", "512M", "8G", "1T", "1.5G" (powers of 1024; an
// optional trailing "B" or "iB" is accepted; a fraction is rounded down to whole bytes). Shared
// by every subcommand that takes a size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "strata/runtime/base/byte_text.hpp"

namespace strata::cli {

// Throws strata::Error(invalid_argument) naming the text on malformed or overflowing sizes.
std::uint64_t parse_byte_size(std::string_view text);
using strata::format_bytes;  // "1.50 GiB"

}  // namespace strata::cli
