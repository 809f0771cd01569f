// SPDX-License-Identifier: Apache-2.0
// unknown_subcommand: walks the words naming subcommands and compares the first unknown one with
// the names that exist by edit distance.
#include "command_suggestion.hpp"

#include <algorithm>
#include <vector>

#include "strata/runtime/base/text.hpp"

namespace strata::cli {
namespace {

// Levenshtein distance: one insertion, deletion or substitution each.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> unknown_subcommand(const CLI::App& app, int argc,
                                              const char* const* argv) {
  const CLI::App* current = &app;
  std::string path = app.get_name();
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return std::nullopt;  // options: CLI11 judges them
    const auto subcommands = current->get_subcommands([](const CLI::App*) { return true; });
    if (subcommands.empty()) return std::nullopt;
    const CLI::App* found = nullptr;
    std::string nearest;
    std::size_t best = 3;  // farther than 2 edits is no suggestion
    for (const CLI::App* s : subcommands) {
      if (s->check_name(word)) found = s;
      const std::string& name = s->get_name();
      const std::size_t d = name.rfind(word, 0) == 0 ? 1 : edit_distance(word, name);
      if (d < best) {
        best = d;
        nearest = name;
      }
    }
    if (found == nullptr) {
      std::string line = "unknown command '" + printable(word) + "'";
      if (!nearest.empty()) line += "; did you mean '" + nearest + "'?";
      line += " (see " + path + " --help)";
      return line;
    }
    current = found;
    path += " " + found->get_name();
  }
  return std::nullopt;
}

}  // namespace strata::cli
