// SPDX-License-Identifier: Apache-2.0
// strata::Error, the one exception type thrown at strata's API boundaries.
// It carries a category (what kind of failure), a message, and context (the file, field, rank or
// size involved), so a caller can react by category and a user reads one line that says it all.
//
//   try { auto t = strata::Topology::synthetic("pack:x"); }
//   catch (const strata::Error& e) { if (e.category() == strata::ErrorCategory::invalid_argument) ... }
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata {

enum class ErrorCategory {
  invalid_argument,  // a caller passed something that can never work (bad string, bad shape)
  io,                // a file or folder could not be read or written
  corrupt_data,      // a file's contents fail validation (magic, checksum, bounds)
  resource,          // memory, huge pages, locked memory or disk space ran out or were refused
  system,            // an operating-system or library call failed unexpectedly
  unsupported,       // the machine or build cannot do what was asked
  distributed,       // MPI or another rank failed
  config,            // the environment (Slurm variables, STRATA_*) is malformed
};

// The category's name as it appears in messages: "invalid_argument", "io", ...
std::string_view to_string(ErrorCategory category) noexcept;

// One key/value of context, e.g. {"file", "/data/x.strata"}, {"field", "shape[2]"}.
struct ErrorContext {
  std::string key;
  std::string value;
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, std::string message, std::vector<ErrorContext> context = {});

  ErrorCategory category() const noexcept { return category_; }
  // The message without context.
  const std::string& message() const noexcept { return message_; }
  const std::vector<ErrorContext>& context() const noexcept { return context_; }
  // The value of one context key, or an empty view when absent. A view into this Error: not on a
  // temporary.
  std::string_view context_value(std::string_view key) const& noexcept;
  std::string_view context_value(std::string_view key) const&& = delete;

 private:
  ErrorCategory category_;
  std::string message_;
  std::vector<ErrorContext> context_;
};

// Throws ErrorCategory::system with strerror(errnum) appended and the given context: for an
// operating-system or library call that should not fail (hwloc, memory policy), not for file I/O.
[[noreturn]] void throw_system_error(std::string what, int errnum,
                                     std::vector<ErrorContext> context = {});

// The category of a failed file or memory call's errno: resource when space, quota, memory or
// descriptors ran out (ENOSPC, EDQUOT, EFBIG, ENOMEM, EMFILE, ENFILE), io for everything else.
ErrorCategory category_of_errno(int errnum) noexcept;

// Error(category_of_errno(errnum), "what: strerror(errnum)", context): the one way a failed call's
// errno becomes an Error. errno_error builds it (to keep or rethrow later), throw_errno throws it.
Error errno_error(std::string what, int errnum, std::vector<ErrorContext> context = {});
[[noreturn]] void throw_errno(std::string what, int errnum, std::vector<ErrorContext> context = {});
// The same with a fixed category, for calls whose every failure means one thing: an anonymous or
// huge-page mapping that is refused is a resource problem whatever errno it reports.
[[noreturn]] void throw_errno(ErrorCategory category, std::string what, int errnum,
                              std::vector<ErrorContext> context = {});

}  // namespace strata
