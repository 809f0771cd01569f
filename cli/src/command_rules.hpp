// SPDX-License-Identifier: Apache-2.0
// Rules every subcommand applies the same way: thread counts, which output files may be
// replaced, and how text read from files reaches the terminal and JSON.
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

// What an output file will be once written.
enum class OutputKind { strata, hdf5_export };

// The overwrite rule of every command that writes a file (gen, import, export; ckpt export
// applies the same rule). Refused with Error(invalid_argument) naming the file: an output that is
// the same file as one of `inputs` (same device and inode, whatever the spelling or symlink),
// even with --overwrite; an existing output that is not a regular file (folder, FIFO, device);
// any existing regular file unless `overwrite` (the message says whether it is a `.strata` file,
// kind strata, or an HDF5 file strata exported, kind hdf5_export). Returns true when an existing
// file will be replaced.
bool check_output(const std::string& out, OutputKind kind, bool overwrite,
                  const std::vector<std::string>& inputs = {});

// Before a command writes `out`: removes from its folder the unfinished files a killed strata
// run left there (remove_abandoned_files), saying so on stderr, one line per file.
void remove_abandoned_beside(const std::string& out);

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
