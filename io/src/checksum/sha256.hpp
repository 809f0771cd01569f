// SPDX-License-Identifier: Apache-2.0
// SHA-256 through OpenSSL's EVP interface, streamed: the checkpoint store hashes each shard as it
// writes it and each manifest body, so a changed byte anywhere is detected on restore.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace strata::io::detail {

class Sha256 {
 public:
  // Throws Error(system) if OpenSSL cannot provide SHA-256.
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  static constexpr std::size_t kDigestBytes = 32;
  using digest_type = std::array<std::byte, kDigestBytes>;

  void update(std::span<const std::byte> bytes);
  // The digest; the object is spent afterwards.
  digest_type digest();
  // The digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// SHA-256 of one buffer, raw and as 64 lowercase hex digits.
Sha256::digest_type sha256(std::span<const std::byte> bytes);
std::string sha256_hex(std::span<const std::byte> bytes);
std::string to_hex(std::span<const std::byte> bytes);

}  // namespace strata::io::detail
