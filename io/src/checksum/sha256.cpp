// SPDX-License-Identifier: Apache-2.0
// SHA-256 on OpenSSL EVP (see sha256.hpp).
#include "checksum/sha256.hpp"

#include <openssl/evp.h>

#include <cstring>

#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {

struct Sha256::Context {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->ctx = EVP_MD_CTX_new();
  if (context_->ctx == nullptr || EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) != 1) {
    if (context_->ctx != nullptr) EVP_MD_CTX_free(context_->ctx);
    context_->ctx = nullptr;
    throw Error(ErrorCategory::system, "OpenSSL cannot start a SHA-256 digest");
  }
}

Sha256::~Sha256() {
  if (context_ && context_->ctx != nullptr) EVP_MD_CTX_free(context_->ctx);
}

void Sha256::update(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  if (EVP_DigestUpdate(context_->ctx, bytes.data(), bytes.size()) != 1) {
    throw Error(ErrorCategory::system, "OpenSSL SHA-256 update failed");
  }
}

Sha256::digest_type Sha256::digest() {
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->ctx, raw, &length) != 1 || length != kDigestBytes) {
    throw Error(ErrorCategory::system, "OpenSSL SHA-256 final failed");
  }
  digest_type out;
  std::memcpy(out.data(), raw, kDigestBytes);
  return out;
}

std::string Sha256::hex_digest() { return to_hex(digest()); }

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (std::byte b : bytes) {
    const auto v = static_cast<unsigned>(b);
    out.push_back(kHex[v >> 4]);
    out.push_back(kHex[v & 0xf]);
  }
  return out;
}

Sha256::digest_type sha256(std::span<const std::byte> bytes) {
  Sha256 sha;
  sha.update(bytes);
  return sha.digest();
}

std::string sha256_hex(std::span<const std::byte> bytes) {
  Sha256 sha;
  sha.update(bytes);
  return sha.hex_digest();
}

}  // namespace strata::io::detail
