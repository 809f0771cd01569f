// Whole-buffer pwrite/pread/fsync loops with strata's error mapping (see file_io.hpp).
#include "file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "strata/runtime/error.hpp"

namespace strata::io::detail {
namespace {

ErrorCategory category_of(int err) noexcept {
  return err == ENOSPC || err == EDQUOT ? ErrorCategory::resource : ErrorCategory::io;
}

constexpr std::size_t kAlign = 4096;                // satisfies any logical block size up to 4 KiB
constexpr std::size_t kDirectBuffer = 8u << 20;      // one device write
constexpr std::uint64_t kWritebackBytes = 32u << 20;  // buffered mode: start writeback this often

}  // namespace

void AppendWriter::free_deleter::operator()(std::byte* p) const noexcept { std::free(p); }

AppendWriter::AppendWriter(std::string path, mode_t mode) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, mode);
  if (fd_ >= 0) {
    direct_ = true;
  } else if (errno == EINVAL) {  // the file system has no O_DIRECT (tmpfs)
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  }
  if (fd_ < 0) {
    int err = errno;
    throw Error(category_of(err), std::string("cannot create file: ") + std::strerror(err),
                {{"file", path_}});
  }
  ::fchmod(fd_, mode);  // whatever the umask
  if (direct_) {
    buffer_.reset(static_cast<std::byte*>(std::aligned_alloc(kAlign, kDirectBuffer)));
    if (!buffer_) fall_back_to_buffered();
  }
}

AppendWriter::~AppendWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendWriter::fall_back_to_buffered() {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
  direct_ = false;
  // What was buffered and not yet written goes out through the page cache.
  if (buffer_ && buffered_ > 0) write_all(fd_, path_, flushed_, std::span(buffer_.get(), buffered_));
  flushed_ += buffered_;
  buffered_ = 0;
  buffer_.reset();
}

void AppendWriter::flush_buffer(bool last) {
  if (buffered_ == 0) return;
  std::size_t length = buffered_;
  if (last) {  // the tail goes out padded to a whole block; finish() truncates the padding
    const std::size_t padded = (length + kAlign - 1) / kAlign * kAlign;
    std::memset(buffer_.get() + length, 0, padded - length);
    padded_ = padded != length;
    length = padded;
  }
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pwrite(fd_, buffer_.get() + done, length - done, static_cast<off_t>(flushed_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && flushed_ == 0 && done == 0) {
      fall_back_to_buffered();  // the device wants a larger alignment: write through the cache
      return;
    }
    if (n < 0) {
      int err = errno;
      throw Error(category_of(err), std::string("write failed: ") + std::strerror(err),
                  {{"file", path_}, {"offset", std::to_string(flushed_ + done)}});
    }
    done += static_cast<std::size_t>(n);
    if (done % kAlign != 0 && done < length) {
      // A short write that broke the alignment (a nearly full disk): the rest through the cache.
      const std::size_t rest_from = done;
      const int flags = ::fcntl(fd_, F_GETFL);
      if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
      direct_ = false;
      write_all(fd_, path_, flushed_ + rest_from, std::span(buffer_.get() + rest_from, length - rest_from));
      done = length;
    }
  }
  flushed_ += buffered_;
  buffered_ = 0;
  if (!direct_) buffer_.reset();
}

void AppendWriter::append(std::span<const std::byte> data) {
  size_ += data.size();
  while (direct_ && !data.empty()) {
    const std::size_t n = std::min(data.size(), kDirectBuffer - buffered_);
    std::memcpy(buffer_.get() + buffered_, data.data(), n);
    buffered_ += n;
    data = data.subspan(n);
    if (buffered_ == kDirectBuffer) flush_buffer(false);
  }
  if (data.empty()) return;
  write_all(fd_, path_, flushed_, data);
  flushed_ += data.size();
  if (flushed_ - writeback_from_ >= kWritebackBytes) {
    ::sync_file_range(fd_, static_cast<off_t>(writeback_from_),
                      static_cast<off_t>(flushed_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
    writeback_from_ = flushed_;
  }
}

void AppendWriter::finish() {
  if (direct_) flush_buffer(true);
  if (padded_) {
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      int err = errno;
      throw Error(category_of(err), std::string("cannot set the file size: ") + std::strerror(err),
                  {{"file", path_}});
    }
  }
  sync_file(fd_, path_);
}

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
