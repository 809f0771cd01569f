// SPDX-License-Identifier: Apache-2.0
// strata::Error: formatting of the one-line message "category: message (key=value, ...)".
#include "strata/runtime/base/error.hpp"

#include <cerrno>
#include <cstring>

namespace strata {
namespace {

std::string format_what(ErrorCategory category, const std::string& message,
                        const std::vector<ErrorContext>& context) {
  std::string out(to_string(category));
  out += ": ";
  out += message;
  if (!context.empty()) {
    out += " (";
    for (std::size_t i = 0; i < context.size(); ++i) {
      if (i != 0) out += ", ";
      out += context[i].key;
      out += '=';
      out += context[i].value;
    }
    out += ')';
  }
  return out;
}

}  // namespace

std::string_view to_string(ErrorCategory category) noexcept {
  switch (category) {
    case ErrorCategory::invalid_argument: return "invalid_argument";
    case ErrorCategory::io: return "io";
    case ErrorCategory::corrupt_data: return "corrupt_data";
    case ErrorCategory::resource: return "resource";
    case ErrorCategory::system: return "system";
    case ErrorCategory::unsupported: return "unsupported";
    case ErrorCategory::distributed: return "distributed";
    case ErrorCategory::config: return "config";
  }
  return "unknown";
}

Error::Error(ErrorCategory category, std::string message, std::vector<ErrorContext> context)
    : std::runtime_error(format_what(category, message, context)),
      category_(category),
      message_(std::move(message)),
      context_(std::move(context)) {}

std::string_view Error::context_value(std::string_view key) const& noexcept {
  for (const auto& c : context_) {
    if (c.key == key) return c.value;
  }
  return {};
}

void throw_system_error(std::string what, int errnum, std::vector<ErrorContext> context) {
  what += ": ";
  what += std::strerror(errnum);
  throw Error(ErrorCategory::system, std::move(what), std::move(context));
}

ErrorCategory category_of_errno(int errnum) noexcept {
  switch (errnum) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return ErrorCategory::resource;
    default:
      return ErrorCategory::io;
  }
}

Error errno_error(std::string what, int errnum, std::vector<ErrorContext> context) {
  what += ": ";
  what += std::strerror(errnum);
  return Error(category_of_errno(errnum), std::move(what), std::move(context));
}

void throw_errno(std::string what, int errnum, std::vector<ErrorContext> context) {
  throw errno_error(std::move(what), errnum, std::move(context));
}

void throw_errno(ErrorCategory category, std::string what, int errnum,
                 std::vector<ErrorContext> context) {
  what += ": ";
  what += std::strerror(errnum);
  throw Error(category, std::move(what), std::move(context));
}

}  // namespace strata
