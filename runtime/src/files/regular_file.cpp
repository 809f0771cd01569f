// SPDX-License-Identifier: Apache-2.0
// open_regular_file: O_NONBLOCK open, fstat, refuse what is not a regular file.
#include "strata/runtime/files/regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "strata/runtime/base/error.hpp"

namespace strata {
namespace {

const char* kind_of(mode_t mode) noexcept {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

int open_regular_file(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == EISDIR)
      throw Error(ErrorCategory::io, "is a folder, not a regular file", {{"file", path}});
    throw_errno("cannot open file", err, {{"file", path}});
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw_errno("cannot stat file", err, {{"file", path}});
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCategory::io,
                std::string("is ") + kind_of(st.st_mode) + ", not a regular file",
                {{"file", path}});
  }
  if ((flags & O_NONBLOCK) == 0) {
    const int status = ::fcntl(fd, F_GETFL);
    if (status < 0 || ::fcntl(fd, F_SETFL, status & ~O_NONBLOCK) != 0) {
      const int err = errno;
      ::close(fd);
      throw_errno("cannot set the file's flags", err, {{"file", path}});
    }
  }
  return fd;
}

void check_regular_file(const std::string& path) { ::close(open_regular_file(path, O_RDONLY)); }

}  // namespace strata
