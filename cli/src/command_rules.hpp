// SPDX-License-Identifier: Apache-2.0
// Rules every subcommand applies the same way: thread counts, leftovers beside an output (the
// output rule itself is strata::io::check_output), progress on stderr, and how text read from
// files reaches the terminal and JSON.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace strata::cli {

// A --threads value as the Executor would run it (0: STRATA_THREADS or one per allowed CPU);
// Error(invalid_argument) for more than Executor::kMaxThreadsPerCpu per allowed CPU, for commands
// that start threads without an Executor (gen, verify, inspect --verify).
unsigned checked_threads(unsigned requested);

// Before a command writes `out`: removes from its folder the unfinished files a killed strata
// run left there (remove_abandoned_files), saying so on stderr, one line per file.
void remove_abandoned_beside(const std::string& out);

// Adds --quiet to a command whose work can take more than a second: it turns off the progress
// report (strata::ProgressReport) on stderr.
void add_quiet_flag(CLI::App* command, bool& quiet);

// A CLI11 check for a whole number >= minimum, failing with "must be a whole number of at least
// N, got X" (CLI11's own ranges print the limits of double, and an unsigned option turns -5 into
// 18446744073709551611 unless checked first).
CLI::Validator whole_number_at_least(long long minimum);

// JSON text that never throws: bytes that are not UTF-8 (metadata values may be anything) become
// U+FFFD. The one encoding of every command's non-finite numbers (JSON has none): +inf, -inf and
// NaN are the strings "inf", "-inf" and "nan"; null means that no value exists (the mean of no
// values), never a number.
std::string json_text(const nlohmann::json& j);

}  // namespace strata::cli
