// SPDX-License-Identifier: Apache-2.0
// The output rule: same-file, folder, existing-file, writability and free-space checks made
// before a program starts work that would end by writing the file.
#include "strata/io/files/output_rules.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "strata/io/format/strata_file.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/byte_text.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io {
namespace {

// The folder the output goes into ("." for a bare name).
std::string folder_of(const std::string& out) {
  const std::string parent = std::filesystem::path(out).parent_path().string();
  return parent.empty() ? "." : parent;
}

// errno of trying to create a file in `folder`, or 0 when it can be written.
int folder_write_error(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);  // unnamed: nothing is left behind
    return 0;
  }
  const int error = errno;
  if (error != EOPNOTSUPP && error != EISDIR && error != EINVAL) return error;
  // No O_TMPFILE on this file system: ask the kernel's permission check instead.
  return ::access(folder.c_str(), W_OK | X_OK) == 0 ? 0 : errno;
}

std::string existing_file_description(const std::string& out, OutputKind kind, bool resolves) {
  switch (kind) {
    case OutputKind::strata:
      return resolves && is_strata_file(out) ? "a .strata file" : "a file strata did not write";
    case OutputKind::hdf5_export:
      return resolves && is_strata_hdf5_export(out) ? "an HDF5 file strata exported"
                                                    : "a file strata did not write";
    case OutputKind::hdf5:
      return "a file";
  }
  return "a file";
}

}  // namespace

bool check_output(const std::string& out, const OutputRules& rules) {
  for (const auto& in : rules.inputs) {
    std::error_code ec;
    if (std::filesystem::equivalent(in, out, ec)) {
      throw Error(ErrorCategory::invalid_argument, "the output file is the input file",
                  {{"file", out}, {"input", in}});
    }
  }
  const std::string folder = folder_of(out);
  struct stat folder_stat {};
  const bool found = ::stat(folder.c_str(), &folder_stat) == 0;
  if (!found || !S_ISDIR(folder_stat.st_mode)) {
    const bool missing = !found && errno == ENOENT;
    throw Error(ErrorCategory::invalid_argument,
                missing ? "the output's folder does not exist"
                        : "the output's folder is not a folder (a part of the path is a file)",
                {{"file", out}, {"folder", folder}});
  }
  bool replaces = false;
  struct stat link {};
  if (::lstat(out.c_str(), &link) == 0) {
    struct stat target {};
    const bool resolves = ::stat(out.c_str(), &target) == 0;
    if (resolves && !S_ISREG(target.st_mode)) {
      throw Error(ErrorCategory::invalid_argument,
                  S_ISDIR(target.st_mode)
                      ? "the output is a folder, not a regular file; name a file to write"
                      : "the output exists and is not a regular file; name a file to write",
                  {{"file", out}});
    }
    if (!rules.overwrite) {
      // One rule for every program that writes: an existing output is replaced only when asked,
      // checked before any work. The message says what the file is, so a user knows what they
      // would replace.
      throw Error(ErrorCategory::invalid_argument,
                  "the output exists (" + existing_file_description(out, rules.kind, resolves) +
                      "); pass --overwrite to replace it",
                  {{"file", out}});
    }
    replaces = true;
  }
  if (const int error = folder_write_error(folder); error != 0) {
    throw Error(ErrorCategory::io,
                std::string("cannot write into the output's folder: ") + std::strerror(error),
                {{"file", out}, {"folder", folder}});
  }
  struct statvfs fs {};
  // A file system reporting no blocks at all (procfs, some FUSE mounts) says nothing of its space.
  if (rules.expected_bytes > 0 && ::statvfs(folder.c_str(), &fs) == 0 && fs.f_blocks > 0) {
    const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;  // df's "Avail"
    if (free_bytes < rules.expected_bytes) {
      throw Error(ErrorCategory::resource,
                  "not enough free space for the output: it needs about " +
                      format_bytes(rules.expected_bytes) + ", the file system has " +
                      format_bytes(free_bytes) + " free",
                  {{"file", out}, {"folder", folder}});
    }
  }
  return replaces;
}

}  // namespace strata::io
