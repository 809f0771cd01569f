// SHA-256 through OpenSSL's EVP interface, streamed: the checkpoint store hashes each shard as it
// writes it and each manifest body, so a changed byte anywhere is detected on restore.
#pragma once

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

  void update(std::span<const std::byte> bytes);
  // The digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// SHA-256 of one buffer as 64 lowercase hex digits.
std::string sha256_hex(std::span<const std::byte> bytes);

}  // namespace strata::io::detail
