// SPDX-License-Identifier: Apache-2.0
// write()+fdatasync, fsync of a folder and pread of a whole file, for the baselines
// (durable_file.hpp).
#include "durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace strata::bench::checkpoint {
namespace {

[[noreturn]] void fail(const char* what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(),
                          std::string("checkpoint bench: ") + what + " " + path);
}

class file_descriptor {
 public:
  file_descriptor(const std::string& path, int flags) : fd_(::open(path.c_str(), flags, 0640)) {
    if (fd_ < 0) fail("cannot open", path);
  }
  ~file_descriptor() { ::close(fd_); }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace

void write_fdatasync(const std::string& path, std::span<const std::byte> bytes) {
  const file_descriptor fd(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write", path);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  if (::fdatasync(fd.get()) != 0) fail("cannot fdatasync", path);
}

void fdatasync_file(const std::string& path) {
  const file_descriptor fd(path, O_RDONLY | O_CLOEXEC);
  if (::fdatasync(fd.get()) != 0) fail("cannot fdatasync", path);
}

void fsync_folder(const std::string& path) {
  const file_descriptor fd(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (::fsync(fd.get()) != 0) fail("cannot fsync the folder", path);
}

void pread_file(const std::string& path, std::span<std::byte> out) {
  const file_descriptor fd(path, O_RDONLY | O_CLOEXEC);
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read", path);
    if (n == 0) {
      errno = EIO;
      fail("ends early:", path);
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace strata::bench::checkpoint
