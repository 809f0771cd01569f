// SPDX-License-Identifier: Apache-2.0
// TemporaryFile: exclusive creation under a random hidden name, removal unless published.
#include "files/temporary_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "files/publish_file.hpp"
#include "files/unfinished_registry.hpp"

namespace strata::io::detail {

TemporaryFile TemporaryFile::beside(const std::string& final_path) {
  for (int attempt = 0;; ++attempt) {
    std::string path = unfinished_name_beside(final_path);
    // In the table before it exists, so an interrupt at any moment after creation removes it.
    const int slot = register_unfinished(path);
    // 0666: the umask takes away what the user does not want shared; strata never adds to it.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) return TemporaryFile(std::move(path), fd, slot);
    const int err = errno;
    unregister_unfinished(slot);
    errno = err;
    // EEXIST: the name was taken (by chance, or planted); another random one is as good.
    if (errno != EEXIST || attempt == 8) {
      throw_errno("cannot create file", errno, {{"file", final_path}});
    }
  }
}

TemporaryFile::TemporaryFile(TemporaryFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      slot_(std::exchange(other.slot_, -1)),
      published_(std::exchange(other.published_, true)) {}

TemporaryFile& TemporaryFile::operator=(TemporaryFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    slot_ = std::exchange(other.slot_, -1);
    published_ = std::exchange(other.published_, true);
  }
  return *this;
}

TemporaryFile::~TemporaryFile() { release(); }

void TemporaryFile::release() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!published_ && !path_.empty()) ::unlink(path_.c_str());
  unregister_unfinished(std::exchange(slot_, -1));
  published_ = true;
}

std::string TemporaryFile::descriptor_path() const {
  return "/proc/self/fd/" + std::to_string(fd_);
}

void TemporaryFile::publish(const std::string& final_path,
                            const std::vector<ErrorContext>& context) {
  if (fd_ >= 0) {
    const int rc = ::close(std::exchange(fd_, -1));
    if (rc != 0 && errno != EINTR) throw_errno("cannot write the file", errno, context);
  }
  mark_publishing(slot_);
  publish_file(path_, final_path, context);
  published_ = true;
  unregister_unfinished(std::exchange(slot_, -1));
}

}  // namespace strata::io::detail
