// SPDX-License-Identifier: Apache-2.0
// UTF-8 validation and escaping of untrusted text for printing.
#include "strata/runtime/base/text.hpp"

#include <cstdint>
#include <cstdio>

namespace strata {
namespace {

// The code point of the UTF-8 sequence at text[i] and its length, or length 0 when the bytes
// there are not UTF-8.
struct Decoded {
  std::uint32_t code = 0;
  std::size_t length = 0;
};

Decoded decode(std::string_view text, std::size_t i) noexcept {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return {lead, 1};
  std::size_t extra = 0;
  std::uint32_t code = 0;
  if ((lead & 0xE0) == 0xC0) {
    extra = 1;
    code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2;
    code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3;
    code = lead & 0x07;
  } else {
    return {};
  }
  if (extra > text.size() - i - 1) return {};  // truncated sequence
  for (std::size_t k = 1; k <= extra; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return {};
    code = (code << 6) | (next & 0x3F);
  }
  // Overlong encodings, surrogates and values past U+10FFFF are not UTF-8.
  static constexpr std::uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
  if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return {};
  return {code, extra + 1};
}

bool acts_on_terminal(std::uint32_t code) noexcept {
  return (code >= 0x80 && code <= 0x9F) || (code >= 0x202A && code <= 0x202E) ||
         (code >= 0x2066 && code <= 0x2069);
}

}  // namespace

bool is_utf8(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size();) {
    const Decoded d = decode(text, i);
    if (d.length == 0) return false;
    i += d.length;
  }
  return true;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char escape[16];
  for (std::size_t i = 0; i < text.size();) {
    const Decoded d = decode(text, i);
    if (d.length == 0 || d.code < 0x20 || d.code == 0x7F) {
      const auto byte = static_cast<unsigned char>(text[i]);
      if (byte == '\n')
        out += "\\n";
      else if (byte == '\r')
        out += "\\r";
      else if (byte == '\t')
        out += "\\t";
      else {
        std::snprintf(escape, sizeof escape, "\\x%02x", byte);
        out += escape;
      }
      ++i;
      continue;
    }
    if (acts_on_terminal(d.code)) {
      std::snprintf(escape, sizeof escape, "\\u{%04x}", static_cast<unsigned>(d.code));
      out += escape;
    } else {
      out.append(text.substr(i, d.length));
    }
    i += d.length;
  }
  return out;
}

}  // namespace strata
