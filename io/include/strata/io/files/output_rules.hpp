// SPDX-License-Identifier: Apache-2.0
// The rule every strata program applies to a file it is about to write, before any work: the
// `strata` commands (gen, import, export, ckpt export) and examples/analysis's --out. A run that
// would fail at its end — the output is a folder, its folder cannot be written, the disk cannot
// hold it, it exists and may not be replaced — stops at once with one error instead.
//
//   const bool replaces = strata::io::check_output(
//       "out.h5", {.kind = strata::io::OutputKind::hdf5, .overwrite = overwrite,
//                  .inputs = {"data.strata"}, .expected_bytes = 8ull << 30});
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata::io {

// What an output file will be once written; names what an existing file is when it is refused.
enum class OutputKind { strata, hdf5_export, hdf5 };

struct OutputRules {
  OutputKind kind = OutputKind::strata;
  // Replace an existing regular file (a command's --overwrite).
  bool overwrite = false;
  // Files the run reads: the output may never be one of them, whatever the spelling or symlink.
  std::vector<std::string> inputs;
  // About how many bytes the output will take, when known before the work (0: unknown). Written
  // under a temporary name beside the output, so an existing file it replaces frees nothing.
  std::uint64_t expected_bytes = 0;
};

// Checks, in this order, and throws strata::Error naming the file (and the folder or input):
// - invalid_argument: the output is one of rules.inputs (same device and inode);
// - invalid_argument: its folder does not exist, or a part of its path is not a folder
//   (`out/x` where `out` is a file);
// - invalid_argument: the output exists and is not a regular file (folder, FIFO, device);
// - invalid_argument: it exists and rules.overwrite is false (the message says whether it is a
//   `.strata` file, an HDF5 file strata exported, or a file strata did not write);
// - io: the folder cannot be written (permissions, a read-only file system), found by creating
//   an unnamed file there (O_TMPFILE; access(2) where the file system has none), so it holds
//   for root too;
// - resource: rules.expected_bytes is more than the file system's free space (statvfs's
//   f_bavail, what df shows as available; not checked where the file system reports no blocks).
// Returns true when an existing file will be replaced.
bool check_output(const std::string& out, const OutputRules& rules);

}  // namespace strata::io
