// SPDX-License-Identifier: Apache-2.0
// Untrusted text: checking that bytes are UTF-8, and making names and values read from files safe
// to print on a terminal (no escape sequences, carriage returns or invalid bytes reach it).
//
//   if (!strata::is_utf8(name)) reject();
//   std::cout << strata::printable(name);   // "bad\x1b[2Jname" instead of clearing the screen
#pragma once

#include <string>
#include <string_view>

namespace strata {

// True when `text` is well-formed UTF-8: no overlong forms, surrogates or values past U+10FFFF.
// A NUL byte is U+0000 and so is UTF-8; callers that cannot hold it check for it themselves.
bool is_utf8(std::string_view text) noexcept;

// `text` with every byte or character that could act on a terminal written out as an escape:
// C0 controls (tab, CR, LF, ESC, ...) and DEL as \t, \r, \n or \xNN, C1 controls and the bidi
// overrides and isolates (U+202A..U+202E, U+2066..U+2069) as \u{XXXX}, and bytes that are not
// UTF-8 as \xNN. Everything else, backslashes included, is kept as it is.
std::string printable(std::string_view text);

}  // namespace strata
