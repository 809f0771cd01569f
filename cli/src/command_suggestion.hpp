// SPDX-License-Identifier: Apache-2.0
// A mistyped subcommand (`strata stat f`, `strata ckpt lst d`) named back to the user with the
// nearest real one, before CLI11 would answer only "A subcommand is required".
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace strata::cli {

// When the first word after the program (or after a command that has subcommands, such as ckpt)
// is not a subcommand of it, the one line to print: "unknown command 'stat'; did you mean
// 'stats'? (see strata --help)" — the suggestion only when one is close (edit distance <= 2, or a
// prefix). nullopt when the command line names its subcommands correctly (or asks for help).
std::optional<std::string> unknown_subcommand(const CLI::App& app, int argc,
                                              const char* const* argv);

}  // namespace strata::cli
