// SPDX-License-Identifier: Apache-2.0
// Thread-count checking, the output overwrite rule and never-throwing JSON for the subcommands.
#include "command_rules.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "strata/io/files/unfinished_files.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/text.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::cli {

unsigned checked_threads(unsigned requested) {
  return Executor::resolve_threads(Topology::load(), requested);
}

bool check_output(const std::string& out, OutputKind kind, bool overwrite,
                  const std::vector<std::string>& inputs) {
  for (const auto& in : inputs) {
    std::error_code ec;
    if (std::filesystem::equivalent(in, out, ec)) {
      throw Error(ErrorCategory::invalid_argument, "the output file is the input file",
                  {{"file", out}, {"input", in}});
    }
  }
  struct stat link {};
  if (::lstat(out.c_str(), &link) != 0) return false;  // nothing there: nothing replaced
  struct stat target {};
  const bool resolves = ::stat(out.c_str(), &target) == 0;
  if (resolves && !S_ISREG(target.st_mode)) {
    throw Error(ErrorCategory::invalid_argument,
                "the output exists and is not a regular file; name a file to write",
                {{"file", out}});
  }
  if (!overwrite) {
    // One rule for every command that writes: an existing output is replaced only when asked,
    // checked before any work. The message says what the file is, so a user knows what they
    // would replace.
    const bool ours = resolves && (kind == OutputKind::strata ? io::is_strata_file(out)
                                                              : io::is_strata_hdf5_export(out));
    const std::string what = !ours                        ? "a file strata did not write"
                             : kind == OutputKind::strata ? "a .strata file"
                                                          : "an HDF5 file strata exported";
    throw Error(ErrorCategory::invalid_argument,
                "the output exists (" + what + "); pass --overwrite to replace it",
                {{"file", out}});
  }
  return true;
}

CLI::Validator whole_number_at_least(long long minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long long value = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno != 0 || value < minimum) {
          return "must be a whole number of at least " + std::to_string(minimum) + ", got " +
                 printable(text);
        }
        return {};
      },
      "INT>=" + std::to_string(minimum));
}

void remove_abandoned_beside(const std::string& out) {
  for (const auto& path :
       io::remove_abandoned_files(std::filesystem::path(out).parent_path().string())) {
    std::cerr << "strata: note: removed " << printable(path)
              << ", an unfinished file left by a strata run that was killed\n";
  }
}

namespace {

// A copy of j with every non-finite float as its string (nlohmann::json would print null).
nlohmann::json with_nonfinite_as_strings(const nlohmann::json& j) {
  if (j.is_number_float()) {
    const double x = j.get<double>();
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    return j;
  }
  if (!j.is_structured()) return j;
  nlohmann::json out = j.is_array() ? nlohmann::json::array() : nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (j.is_array()) {
      out.push_back(with_nonfinite_as_strings(*it));
    } else {
      out[it.key()] = with_nonfinite_as_strings(*it);
    }
  }
  return out;
}

}  // namespace

std::string json_text(const nlohmann::json& j) {
  return with_nonfinite_as_strings(j).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace strata::cli
