// SPDX-License-Identifier: Apache-2.0
// FolderLock: flock(LOCK_EX | LOCK_NB) on dir/.strata-lock; the holder's "host H, pid P" is the
// file's content while it holds the lock. The kernel drops the lock when the process ends, so a
// crashed job never leaves the folder locked.
#include "checkpoint/folder_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "strata/runtime/base/error.hpp"

namespace strata::io::detail {

FolderLock::FolderLock(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kLockFileName).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd_ < 0)
    throw_errno("cannot open the checkpoint folder's lock file", errno, {{"file", path}});
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[256] = {};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    std::string who(holder, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) who.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) throw_errno("cannot lock the checkpoint folder", err, {{"file", path}});
    throw Error(ErrorCategory::io,
                "checkpoint folder is in use by another job (" +
                    (who.empty() ? "holder unknown" : who) + "); give each job its own folder",
                {{"folder", dir}});
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string me = "host " + std::string(host) + ", pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)::pwrite(fd_, me.data(), me.size(), 0);
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

FolderLock::FolderLock(FolderLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

}  // namespace strata::io::detail
