// SPDX-License-Identifier: Apache-2.0
// Byte counts as people read them, in powers of 1024: the one spelling of sizes in strata's
// messages, progress lines and command output.
//
//   strata::format_bytes(1610612736);   // "1.50 GiB"
#pragma once

#include <cstdint>
#include <string>

namespace strata {

// "512 B", "1.50 GiB": bytes below 1 KiB exactly, larger counts with two decimals.
std::string format_bytes(std::uint64_t bytes);

}  // namespace strata
