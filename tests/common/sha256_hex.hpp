// SPDX-License-Identifier: Apache-2.0
// SHA-256 as lowercase hex straight from OpenSSL, for tests that forge a checkpoint manifest with
// a correct seal (so only the code's other checks can catch the forgery).
#pragma once

#include <openssl/sha.h>

#include <string>

namespace strata::test {

inline std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace strata::test
