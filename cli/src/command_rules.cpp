// SPDX-License-Identifier: Apache-2.0
// Thread-count checking, the output overwrite rule and never-throwing JSON for the subcommands.
#include "command_rules.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "strata/io/files/unfinished_files.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/text.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::cli {

unsigned checked_threads(unsigned requested) {
  return Executor::resolve_threads(Topology::load(), requested);
}

void add_quiet_flag(CLI::App* command, bool& quiet) {
  command->add_flag("--quiet,-q", quiet,
                    "No progress on stderr (by default: a bar on a terminal, else a line every "
                    "10 s or tenth of the work, after the first second)");
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
