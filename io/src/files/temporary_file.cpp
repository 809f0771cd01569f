// SPDX-License-Identifier: Apache-2.0
// TemporaryFile: exclusive creation under a random hidden name, removal unless published.
#include "files/temporary_file.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "files/publish_file.hpp"

namespace strata::io::detail {
namespace {

// 16 hex digits from the kernel's random source: a name an attacker cannot plant in advance.
std::string random_suffix() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_system_error("getrandom failed", errno);
    got += static_cast<std::size_t>(n);
  }
  char hex[17];
  for (std::size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return hex;
}

}  // namespace

TemporaryFile TemporaryFile::beside(const std::string& final_path) {
  const std::filesystem::path target(final_path);
  for (int attempt = 0;; ++attempt) {
    std::string name = ".";  // appended piecewise: GCC 12 warns on "." + string (-Wrestrict)
    name += target.filename().string();
    name += ".tmp-";
    name += random_suffix();
    std::string path = (target.parent_path() / name).string();
    // 0666: the umask takes away what the user does not want shared; strata never adds to it.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) return TemporaryFile(std::move(path), fd);
    // EEXIST: the name was taken (by chance, or planted); another random one is as good.
    if (errno != EEXIST || attempt == 8) {
      throw_errno("cannot create file", errno, {{"file", final_path}});
    }
  }
}

TemporaryFile::TemporaryFile(TemporaryFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      published_(std::exchange(other.published_, true)) {}

TemporaryFile& TemporaryFile::operator=(TemporaryFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    published_ = std::exchange(other.published_, true);
  }
  return *this;
}

TemporaryFile::~TemporaryFile() { release(); }

void TemporaryFile::release() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!published_ && !path_.empty()) ::unlink(path_.c_str());
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
  publish_file(path_, final_path, context);
  published_ = true;
}

}  // namespace strata::io::detail
