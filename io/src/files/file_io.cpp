// SPDX-License-Identifier: Apache-2.0
// Whole-buffer pwrite/pread/fsync loops with strata's error mapping (see file_io.hpp).
#include "files/file_io.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/round_up.hpp"

namespace strata::io::detail {
namespace {

constexpr std::size_t kAlign = 4096;             // satisfies any logical block size up to 4 KiB
constexpr std::size_t kDirectBuffer = 8u << 20;  // one device write
constexpr std::uint64_t kWritebackBytes = 32u << 20;  // buffered mode: start writeback this often

// Whether `fd` lives in memory (tmpfs, ramfs): there the page cache is the file, O_DIRECT (which
// tmpfs accepts since Linux 6.6) only adds a bounce copy and a thread hand-off, and there is no
// writeback to start.
bool in_memory_file_system(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;
  const auto type = static_cast<unsigned long>(fs.f_type);
  return type == TMPFS_MAGIC || type == RAMFS_MAGIC;
}

}  // namespace

// Direct mode: the caller fills one buffer while the thread writes the others, in order, each at
// its file offset. A failed write is kept and rethrown to the caller; later buffers are dropped.
struct AppendWriter::device_writes {
  struct job {
    std::size_t buffer;
    std::size_t length;
    std::uint64_t offset;
  };
  struct free_deleter {
    void operator()(std::byte* p) const noexcept { std::free(p); }
  };
  static constexpr std::size_t kBuffers = 3;

  int fd;
  const std::string& path;
  std::vector<std::unique_ptr<std::byte, free_deleter>> buffers;
  std::vector<std::size_t> free_buffers;
  std::deque<job> queue;
  std::size_t busy = 0;  // queued or being written
  std::exception_ptr error;
  bool stopping = false;
  std::mutex mutex;
  std::condition_variable changed;
  std::thread thread;

  std::size_t current = 0;  // the buffer the caller fills
  std::size_t filled = 0;
  std::uint64_t queued_bytes = 0;  // file offset of the current buffer
  bool padded = false;             // the last write went past the size to a whole block

  device_writes(int f, const std::string& p) : fd(f), path(p) {}

  ~device_writes() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    changed.notify_all();
    if (thread.joinable()) thread.join();
  }

  // False when the memory is not there (the writer then goes through the page cache).
  bool allocate() {
    for (std::size_t i = 0; i < kBuffers; ++i) {
      buffers.emplace_back(static_cast<std::byte*>(std::aligned_alloc(kAlign, kDirectBuffer)));
      if (!buffers.back()) return false;
      if (i > 0) free_buffers.push_back(i);
    }
    return true;
  }

  void start() {
    thread = std::thread([this] { run(); });
  }

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;
      const job j = queue.front();
      queue.pop_front();
      if (!error) {
        lock.unlock();
        std::exception_ptr failed;
        try {
          write_block(j);
        } catch (...) {
          failed = std::current_exception();
        }
        lock.lock();
        if (failed && !error) error = failed;
      }
      free_buffers.push_back(j.buffer);
      --busy;
      changed.notify_all();
    }
  }

  void write_block(const job& j) {
    const std::byte* data = buffers[j.buffer].get();
    std::size_t done = 0;
    while (done < j.length) {
      ssize_t n = ::pwrite(fd, data + done, j.length - done, static_cast<off_t>(j.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        throw_errno("write failed", err, {{"file", path}, {"offset", std::to_string(j.offset + done)}});
      }
      done += static_cast<std::size_t>(n);
      if (done % kAlign != 0 && done < j.length) {
        // A short write broke the alignment (a nearly full disk): the rest through the cache.
        const int flags = ::fcntl(fd, F_GETFL);
        if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_DIRECT);
        write_all(fd, path, j.offset + done, std::span(data + done, j.length - done));
        done = j.length;
      }
    }
  }

  void rethrow_locked() {
    if (error) std::rethrow_exception(error);
  }

  // Hands the current buffer to the thread; unless it is the last, waits for a free one.
  void submit(bool last) {
    std::size_t length = filled;
    if (last) {  // the tail goes out padded to a whole block; finish() truncates the padding
      const std::size_t whole = round_up(length, kAlign);
      std::memset(buffers[current].get() + length, 0, whole - length);
      padded = padded || whole != length;
      length = whole;
    }
    std::unique_lock lock(mutex);
    rethrow_locked();
    queue.push_back({current, length, queued_bytes});
    ++busy;
    queued_bytes += filled;
    filled = 0;
    changed.notify_all();
    if (last) return;
    changed.wait(lock, [&] { return !free_buffers.empty(); });
    rethrow_locked();
    current = free_buffers.back();
    free_buffers.pop_back();
  }

  void append(std::span<const std::byte> data) {
    while (!data.empty()) {
      const std::size_t n = std::min(data.size(), kDirectBuffer - filled);
      std::memcpy(buffers[current].get() + filled, data.data(), n);
      filled += n;
      data = data.subspan(n);
      if (filled == kDirectBuffer) submit(false);
    }
  }

  // Writes the tail and waits until every buffer is on the device (or the first failure).
  void drain() {
    if (filled > 0) submit(true);
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return busy == 0; });
    rethrow_locked();
  }
};

AppendWriter::AppendWriter(std::string path, mode_t mode) : path_(std::move(path)) {
  // A new file only, never through a link: a file or link planted under the name is refused.
  fd_ =
      ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_DIRECT, mode);
  if (fd_ >= 0) {
    direct_ = true;
  } else if (errno == EINVAL) {  // no O_DIRECT here (tmpfs), which may have created the file
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
  }
  if (fd_ < 0) {
    int err = errno;
    throw_errno("cannot create file", err, {{"file", path_}});
  }
  if (in_memory_file_system(fd_)) {
    in_memory_ = true;
    if (direct_) {
      const int flags = ::fcntl(fd_, F_GETFL);
      if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
      direct_ = false;
    }
  }
  if (!direct_) return;
  device_ = std::make_unique<device_writes>(fd_, path_);
  bool usable = device_->allocate();
  if (usable) {
    // One aligned block decides: a device that wants a larger alignment refuses it (EINVAL). Any
    // failure means the page cache instead, whose writes then report a real problem (ENOSPC).
    std::memset(device_->buffers[0].get(), 0, kAlign);
    ssize_t n;
    do {
      n = ::pwrite(fd_, device_->buffers[0].get(), kAlign, 0);
    } while (n < 0 && errno == EINTR);
    usable = n == static_cast<ssize_t>(kAlign);
    device_->padded = true;  // the file may now be longer than what is appended
  }
  if (!usable) {
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
    direct_ = false;
    if (::ftruncate(fd_, 0) != 0) {
      int err = errno;
      throw_errno("cannot set the file size", err, {{"file", path_}});
    }
    device_.reset();
    return;
  }
  device_->start();
}

AppendWriter::~AppendWriter() {
  device_.reset();  // stops the thread before the file closes
  if (fd_ >= 0) ::close(fd_);
}

void AppendWriter::append(std::span<const std::byte> data) {
  size_ += data.size();
  if (direct_) {
    device_->append(data);
    return;
  }
  write_all(fd_, path_, size_ - data.size(), data);
  if (!in_memory_ && size_ - writeback_from_ >= kWritebackBytes) {
    ::sync_file_range(fd_, static_cast<off_t>(writeback_from_),
                      static_cast<off_t>(size_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
    writeback_from_ = size_;
  }
}

void AppendWriter::finish() {
  if (direct_) {
    device_->drain();
    if (device_->padded && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      int err = errno;
      throw_errno("cannot set the file size", err, {{"file", path_}});
    }
  }
  sync_file(fd_, path_);
}

void copy_file_in_pieces(const std::string& from, const std::string& to, std::size_t piece_bytes,
                         const std::function<void()>& between_pieces) {
  struct Descriptor {
    int fd = -1;
    ~Descriptor() {
      if (fd >= 0) ::close(fd);
    }
  };
  struct Mapping {
    void* at = MAP_FAILED;
    std::size_t bytes = 0;
    ~Mapping() {
      if (at != MAP_FAILED) ::munmap(at, bytes);
    }
  };
  Descriptor in;
  in.fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in.fd < 0) throw_errno("cannot read the file to copy", errno, {{"file", from}});
  struct stat st {};
  if (::fstat(in.fd, &st) != 0)
    throw_errno("cannot stat the file to copy", errno, {{"file", from}});
  const auto size = static_cast<std::uint64_t>(st.st_size);
  Descriptor out;
  bool direct = true;
  out.fd =
      ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_DIRECT, 0666);
  if (out.fd < 0 && errno == EINVAL) {  // no O_DIRECT here, which may have created the file
    direct = false;
    out.fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
  }
  if (out.fd < 0) throw_errno("cannot create file", errno, {{"file", to}});
  Mapping map;
  if (direct && size > 0) {
    map.bytes = static_cast<std::size_t>(size);
    map.at = ::mmap(nullptr, map.bytes, PROT_READ, MAP_SHARED, in.fd, 0);
  }
  auto go_buffered = [&] {
    if (!direct) return;
    direct = false;
    const int flags = ::fcntl(out.fd, F_GETFL);
    if (flags >= 0) ::fcntl(out.fd, F_SETFL, flags & ~O_DIRECT);
  };
  if (map.at == MAP_FAILED || in_memory_file_system(out.fd)) go_buffered();
  bool padded = false;
  for (std::uint64_t at = 0; at < size; at += piece_bytes) {
    if (between_pieces) between_pieces();
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece_bytes, size - at));
    if (direct) {
      // The mapping covers whole pages, so the tail rounded up to a block stays inside it (its
      // bytes past the end of the file read as zeros; the file is cut to size below).
      const std::size_t whole = round_up(n, kAlign);
      const auto* data = static_cast<const std::byte*>(map.at) + at;
      std::size_t done = 0;
      while (done < whole) {
        const ssize_t k =
            ::pwrite(out.fd, data + done, whole - done, static_cast<off_t>(at + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EINVAL && done == 0) break;  // the device wants larger blocks
        if (k < 0)
          throw_errno("write failed", errno, {{"file", to}, {"offset", std::to_string(at + done)}});
        done += static_cast<std::size_t>(k);
        if (done % kAlign != 0 && done < whole) break;  // a short write broke the alignment
      }
      padded = padded || whole != n;
      if (done >= n) continue;
      go_buffered();  // the rest of this piece, and the pieces after it, through the page cache
      write_all(out.fd, to, at + done, std::span(data + done, n - done));
      continue;
    }
    off_t offset = static_cast<off_t>(at);
    std::size_t left = n;
    while (left > 0) {
      const ssize_t k = ::sendfile(out.fd, in.fd, &offset, left);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0)
        throw_errno("copy failed", errno, {{"file", to}, {"offset", std::to_string(offset)}});
      if (k == 0) {
        throw Error(ErrorCategory::corrupt_data, "file ends early (truncated)",
                    {{"file", from}, {"offset", std::to_string(offset)}});
      }
      left -= static_cast<std::size_t>(k);
    }
    ::sync_file_range(out.fd, static_cast<off_t>(at), static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
  }
  if (padded && ::ftruncate(out.fd, static_cast<off_t>(size)) != 0) {
    throw_errno("cannot set the file size", errno, {{"file", to}});
  }
  sync_file(out.fd, to);
}

void write_all(int fd, const std::string& path, std::uint64_t offset,
               std::span<const std::byte> data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      throw_errno("write failed", err, {{"file", path}, {"offset", std::to_string(offset)}});
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
      throw_errno("read failed", err, {{"file", path}, {"offset", std::to_string(offset)}});
    }
    if (n == 0) {
      throw Error(ErrorCategory::corrupt_data, "file ends early (truncated)",
                  {{"file", path},
                   {"offset", std::to_string(offset)},
                   {"missing_bytes", std::to_string(out.size())}});
    }
    out = out.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
}

void sync_file(int fd, const std::string& path) {
  if (::fsync(fd) != 0) {
    int err = errno;
    throw_errno("fsync failed", err, {{"file", path}});
  }
}

}  // namespace strata::io::detail
