// Whole-buffer pwrite/pread/fsync loops with strata's error mapping (see file_io.hpp).
#include "file_io.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "strata/runtime/error.hpp"

namespace strata::io::detail {
namespace {

ErrorCategory category_of(int err) noexcept {
  return err == ENOSPC || err == EDQUOT ? ErrorCategory::resource : ErrorCategory::io;
}

}  // namespace

void write_all(int fd, const std::string& path, std::uint64_t offset,
               std::span<const std::byte> data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      throw Error(category_of(err), std::string("write failed: ") + std::strerror(err),
                  {{"file", path}, {"offset", std::to_string(offset)}});
    }
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
}

void read_all(int fd, const std::string& path, std::uint64_t offset, std::span<std::byte> out) {
  while (!out.empty()) {
    ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      throw Error(ErrorCategory::io, std::string("read failed: ") + std::strerror(err),
                  {{"file", path}, {"offset", std::to_string(offset)}});
    }
    if (n == 0) {
      throw Error(ErrorCategory::corrupt_data, "file ends early (truncated)",
                  {{"file", path}, {"offset", std::to_string(offset)},
                   {"missing_bytes", std::to_string(out.size())}});
    }
    out = out.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
}

void sync_file(int fd, const std::string& path) {
  if (::fsync(fd) != 0) {
    int err = errno;
    throw Error(category_of(err), std::string("fsync failed: ") + std::strerror(err),
                {{"file", path}});
  }
}

}  // namespace strata::io::detail
