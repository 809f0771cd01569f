// SPDX-License-Identifier: Apache-2.0
// What one rank reports to the others about a checkpoint step — during a save's two-phase commit
// (its part of the manifest, or why it failed) and during restore (the step is usable, damaged or
// incompatible) — and the decision sent back, as one type with one byte encoding for MPI.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {

struct RankOutcome {
  enum class Kind : unsigned char {
    ok,            // text: the payload (a save's manifest part), or empty
    failed,        // a save failed here; text says why, category says what kind
    damaged,       // restore: the step fails a check here (fall back to an older one)
    incompatible,  // restore: the step does not fit what is protected (the caller's mistake)
  };
  Kind kind = Kind::ok;
  ErrorCategory category = ErrorCategory::io;
  std::string text;

  // kind byte | category byte | text.
  std::vector<std::byte> encode() const;
  // Throws Error(distributed) naming `from` when the bytes are not an outcome.
  static RankOutcome decode(std::span<const std::byte> bytes, const std::string& from);
};

}  // namespace strata::io::detail
