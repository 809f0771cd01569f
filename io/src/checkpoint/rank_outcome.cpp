// SPDX-License-Identifier: Apache-2.0
// RankOutcome's encoding: two bytes of kind and category, then the text.
#include "checkpoint/rank_outcome.hpp"

namespace strata::io::detail {

std::vector<std::byte> RankOutcome::encode() const {
  std::vector<std::byte> out;
  out.reserve(2 + text.size());
  out.push_back(static_cast<std::byte>(kind));
  out.push_back(static_cast<std::byte>(category));
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

RankOutcome RankOutcome::decode(std::span<const std::byte> bytes, const std::string& from) {
  if (bytes.size() < 2 ||
      static_cast<unsigned>(bytes[0]) > static_cast<unsigned>(Kind::incompatible) ||
      static_cast<unsigned>(bytes[1]) > static_cast<unsigned>(ErrorCategory::config)) {
    throw Error(ErrorCategory::distributed, "malformed checkpoint message", {{"from", from}});
  }
  RankOutcome o;
  o.kind = static_cast<Kind>(bytes[0]);
  o.category = static_cast<ErrorCategory>(bytes[1]);
  o.text.assign(reinterpret_cast<const char*>(bytes.data()) + 2, bytes.size() - 2);
  return o;
}

}  // namespace strata::io::detail
