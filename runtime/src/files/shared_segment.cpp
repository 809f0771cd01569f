// SPDX-License-Identifier: Apache-2.0
// SharedSegment: the create-or-attach protocol over a named shared-memory object. Layout of the
// object: a header page (magic, version, state, size, generation, creator pid, source tag), then
// the data from a 2 MiB offset (sparse in between, so it costs nothing), aligned for huge pages.
// The creator allocates every page before anyone can see the segment ready; attachers poll the
// header's state, checking that the creator is still alive while they wait.
#include "strata/runtime/base/round_up.hpp"
#include "strata/runtime/files/shared_segment.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>
#include <utility>
#include <vector>

#include "machine/hwloc_placement.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/cluster/slurm_env.hpp"
#include "strata/runtime/machine/huge_pages.hpp"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace strata {

struct detail::SegmentHeader {
  std::uint64_t magic;  // written last by the creator (release): the fields below are then set
  std::uint32_t version;
  std::uint32_t state;  // kFilling, kReady or kFailed; read and written through atomic_ref
  std::uint64_t data_offset;
  std::uint64_t bytes;
  std::uint64_t generation;
  std::uint64_t source_tag;  // share_file: identity of the file copied in; 0 otherwise
  std::int64_t creator_pid;
};

namespace {

using Header = detail::SegmentHeader;

constexpr std::uint64_t kMagic = 0x3147455341525453;  // "STRASEG1" little-endian
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kFilling = 0;
constexpr std::uint32_t kReady = 1;
constexpr std::uint32_t kFailed = 2;
// Data starts 2 MiB in, so shared-memory THP (which needs 2 MiB-aligned file offsets) can back it.
constexpr std::uint64_t kDataOffset = std::uint64_t{2} << 20;
constexpr std::uint64_t kMaxBytes = std::uint64_t{1} << 56;

void check_token(const std::string& text, const char* what, std::size_t min, std::size_t max) {
  bool ok = text.size() >= min && text.size() <= max;
  for (char c : text) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.' || c == '-';
    ok = ok && allowed;
  }
  if (!ok) {
    throw Error(ErrorCategory::invalid_argument,
                std::string("a segment ") + what + " takes " + std::to_string(min) + "-" +
                    std::to_string(max) + " characters of [A-Za-z0-9_.-]",
                {{what, text}});
  }
}

// Where the segment lives and in what page size.
struct Backing {
  std::string name;  // "/strata-..."
  std::string path;  // its file
  bool hugetlbfs = false;
  std::uint64_t page = 0;
  std::uint64_t data_offset = 0;
};

Backing backing_for(const std::string& name, const SharedSegmentOptions& options) {
  Backing b;
  b.name = SharedSegment::object_name(name, options);
  b.page = base_page_bytes();
  if (options.hugetlbfs_dir.empty()) {
    b.path = "/dev/shm" + b.name;  // where glibc's shm_open puts every object on Linux
  } else {
    struct statfs fs {};
    if (::statfs(options.hugetlbfs_dir.c_str(), &fs) != 0 || fs.f_type != HUGETLBFS_MAGIC) {
      throw Error(ErrorCategory::invalid_argument, "not a hugetlbfs mount",
                  {{"folder", options.hugetlbfs_dir}});
    }
    b.hugetlbfs = true;
    b.page = static_cast<std::uint64_t>(fs.f_bsize);
    b.path = options.hugetlbfs_dir + b.name;
  }
  b.data_offset = std::max(kDataOffset, b.page);
  return b;
}

int open_object(const Backing& b, int flags, mode_t mode) {
  return b.hugetlbfs ? ::open(b.path.c_str(), flags | O_CLOEXEC, mode)
                     : ::shm_open(b.name.c_str(), flags, mode);  // shm_open adds O_CLOEXEC
}

int unlink_object(const Backing& b) {
  return b.hugetlbfs ? ::unlink(b.path.c_str()) : ::shm_unlink(b.name.c_str());
}

std::uint32_t load_state(const std::uint32_t& state) noexcept {
  return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(state))
      .load(std::memory_order_acquire);
}

std::uint64_t new_generation() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  auto ns = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
            static_cast<std::uint64_t>(now.tv_nsec);
  return (ns << 20) ^ static_cast<std::uint64_t>(::getpid()) ^ 1u;
}

// The identity of a file's contents as far as the kernel tells it cheaply.
std::uint64_t file_tag(const struct stat& st) noexcept {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
  for (std::uint64_t v : {static_cast<std::uint64_t>(st.st_dev),
                          static_cast<std::uint64_t>(st.st_ino),
                          static_cast<std::uint64_t>(st.st_size),
                          static_cast<std::uint64_t>(st.st_mtim.tv_sec),
                          static_cast<std::uint64_t>(st.st_mtim.tv_nsec)}) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  return h == 0 ? 1 : h;
}

// Polls with a growing sleep: attachers wait once per job start, so latency of a few ms is fine
// and a busy spin would steal the core the creator is filling with.
class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds timeout)
      : deadline_(std::chrono::steady_clock::now() + timeout) {}
  bool expired() const { return std::chrono::steady_clock::now() >= deadline_; }
  void wait() {
    std::this_thread::sleep_for(delay_);
    delay_ = std::min(delay_ * 2, std::chrono::microseconds(20'000));
  }

 private:
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::microseconds delay_{100};
};

// Faults [addr, addr + len) in writable, allocating its shared-memory pages now. A full /dev/shm
// is then an error (EFAULT from populate) instead of a SIGBUS when the page is first written.
void allocate_pages(void* addr, std::uint64_t len, int fd, std::uint64_t file_offset,
                    const std::string& path) {
  if (len == 0) return;
  int err = 0;
  if (::madvise(addr, len, MADV_POPULATE_WRITE) != 0) {
    err = errno;
    if (err == EINVAL) {  // kernels before 5.14: reserve the blocks instead
      err = ::posix_fallocate(fd, static_cast<off_t>(file_offset), static_cast<off_t>(len));
    }
  }
  if (err != 0) {
    // EFAULT is populate's word for "the fault would have raised SIGBUS": here, a full tmpfs.
    if (err == EFAULT) err = ENOSPC;
    throw_errno("cannot allocate the shared segment's memory", err, {{"segment", path}, {"bytes", std::to_string(len)}});
  }
}

// An attacher's mapping of a segment once its creator has marked it ready.
struct Attached {
  std::byte* base = nullptr;
  std::uint64_t mapped = 0;
  std::uint64_t data_offset = 0;
  std::uint64_t bytes = 0;
};

// Unmaps on the way out unless released: the header mapping while waiting, on every error path.
struct ScopedMapping {
  void* addr = MAP_FAILED;
  std::uint64_t len = 0;
  ~ScopedMapping() {
    if (addr != MAP_FAILED) ::munmap(addr, len);
  }
};

Attached attach(int fd, const Backing& b, std::uint64_t bytes, const SharedSegmentOptions& options,
                bool check_size, Backoff& backoff) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw_errno("cannot stat shared segment", errno, {{"segment", b.path}});
  }
  // Only a segment this user made, closed to others, is trusted with this job's data.
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    throw Error(ErrorCategory::io, "shared segment belongs to another user or is open to others",
                {{"segment", b.path}, {"uid", std::to_string(st.st_uid)}});
  }
  auto timeout = [&](const std::string& why, std::int64_t pid) {
    std::vector<ErrorContext> context{{"segment", b.path}};
    if (pid > 0) context.push_back({"creator_pid", std::to_string(pid)});
    return Error(ErrorCategory::distributed, why, context);
  };
  // Wait until the creator has sized the object, then for its header to say ready.
  while (static_cast<std::uint64_t>(st.st_size) < b.data_offset) {
    if (backoff.expired()) {
      throw timeout("timed out waiting for the creator to size the shared segment", 0);
    }
    backoff.wait();
    ::fstat(fd, &st);
  }
  ScopedMapping head{::mmap(nullptr, b.page, PROT_READ, MAP_SHARED, fd, 0), b.page};
  if (head.addr == MAP_FAILED) {
    throw_errno("cannot map shared segment header", errno, {{"segment", b.path}});
  }
  const Header* h = static_cast<const Header*>(head.addr);
  while (true) {
    std::uint64_t magic =
        std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(h->magic))
            .load(std::memory_order_acquire);
    if (magic != 0 && magic != kMagic) {
      throw Error(ErrorCategory::corrupt_data, "not a strata shared segment",
                  {{"segment", b.path}});
    }
    if (magic == kMagic) {
      if (h->version != kVersion) {
        throw Error(ErrorCategory::corrupt_data, "shared segment of an unknown version",
                    {{"segment", b.path}, {"version", std::to_string(h->version)}});
      }
      std::uint32_t state = load_state(h->state);
      if (state == kReady) break;
      if (state == kFailed) {
        throw timeout("the creator of the shared segment failed before it was ready",
                      h->creator_pid);
      }
      if (::kill(static_cast<pid_t>(h->creator_pid), 0) != 0 && errno == ESRCH) {
        throw timeout(
            "the creator of the shared segment died before it was ready; remove the segment "
            "(SharedSegment::remove or rm) and retry",
            h->creator_pid);
      }
    }
    if (backoff.expired()) {
      throw timeout("timed out waiting for the shared segment to be ready",
                    magic == kMagic ? h->creator_pid : 0);
    }
    backoff.wait();
  }
  const std::uint64_t data_offset = h->data_offset;
  const std::uint64_t seg_bytes = h->bytes;
  if (check_size && seg_bytes != bytes) {
    throw Error(ErrorCategory::invalid_argument, "shared segment exists with another size",
                {{"segment", b.path},
                 {"bytes", std::to_string(bytes)},
                 {"segment_bytes", std::to_string(seg_bytes)}});
  }
  const std::uint64_t total = data_offset + round_up(seg_bytes, b.page);
  ::fstat(fd, &st);
  if (data_offset != b.data_offset || static_cast<std::uint64_t>(st.st_size) < total) {
    throw Error(ErrorCategory::corrupt_data, "shared segment is shorter than its header says",
                {{"segment", b.path}, {"file_bytes", std::to_string(st.st_size)}});
  }
  int prot = PROT_READ | (options.attach_writable ? PROT_WRITE : 0);
  void* p = ::mmap(nullptr, total, prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    throw_errno(ErrorCategory::resource, "cannot map shared segment", errno, {{"segment", b.path}, {"bytes", std::to_string(total)}});
  }
  return {static_cast<std::byte*>(p), total, data_offset, seg_bytes};
}

}  // namespace

std::string SharedSegment::object_name(const std::string& name,
                                       const SharedSegmentOptions& options) {
  check_token(name, "name", 1, 128);
  check_token(options.job_key, "job_key", 0, 64);
  SlurmEnv slurm = SlurmEnv::from_environment();
  // Built by appending: GCC 12 warns falsely (-Wrestrict) on "literal" + std::to_string(...).
  std::string object = "/strata-";
  if (slurm.in_job) {
    object += std::to_string(slurm.job_id);
  } else {
    object += 'u';
    object += std::to_string(static_cast<unsigned long>(::geteuid()));
  }
  if (!options.job_key.empty()) object.append("-").append(options.job_key);
  object.append("-").append(name);
  return object;
}

SharedSegment SharedSegment::create_or_attach(const std::string& name, std::uint64_t bytes,
                                              const SharedSegmentOptions& options) {
  return open_segment(name, bytes, options, true);
}

SharedSegment SharedSegment::open_segment(const std::string& name, std::uint64_t bytes,
                                          const SharedSegmentOptions& options, bool check_size) {
  if (bytes > kMaxBytes) {
    throw Error(ErrorCategory::invalid_argument, "shared segment too large",
                {{"name", name}, {"bytes", std::to_string(bytes)}});
  }
  if (options.placement) {
    if (options.topology == nullptr) {
      throw Error(ErrorCategory::invalid_argument, "a placement needs a topology",
                  {{"name", name}});
    }
    detail::validate_nodes(*options.topology, *options.placement);
  }
  const Backing b = backing_for(name, options);
  SharedSegment s;
  s.name_ = b.name;
  s.path_ = b.path;
  s.hugetlbfs_ = b.hugetlbfs;
  s.page_ = b.page;
  Backoff backoff(options.attach_timeout);

  while (true) {
    s.fd_ = open_object(b, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (s.fd_ >= 0) break;
    if (errno != EEXIST) {
      throw_errno("cannot create shared segment", errno, {{"segment", b.path}});
    }
    s.fd_ = open_object(b, options.attach_writable ? O_RDWR : O_RDONLY, 0);
    if (s.fd_ >= 0) {
      Attached a = attach(s.fd_, b, bytes, options, check_size, backoff);
      s.base_ = a.base;
      s.mapped_ = a.mapped;
      s.data_ = a.base + a.data_offset;
      s.bytes_ = a.bytes;
      s.writable_ = options.attach_writable;
      return s;
    }
    // Removed between our create and open (its creator gave up): try to create it again.
    if (errno != ENOENT || backoff.expired()) {
      throw_errno("cannot open shared segment", errno, {{"segment", b.path}});
    }
    backoff.wait();
  }

  // The creator. From here on the destructor marks the segment failed and removes its name if we
  // throw, so attachers stop waiting and a retry can create it afresh.
  s.owner_ = true;
  s.writable_ = true;
  if (::fchmod(s.fd_, 0600) != 0) {  // exactly 0600 whatever the umask
    throw_errno("cannot set segment permissions", errno, {{"segment", b.path}});
  }
  const std::uint64_t total = b.data_offset + round_up(bytes, b.page);
  if (::ftruncate(s.fd_, static_cast<off_t>(total)) != 0) {
    throw_errno(ErrorCategory::resource, "cannot size shared segment", errno, {{"segment", b.path}, {"bytes", std::to_string(total)}});
  }
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_, 0);
  if (p == MAP_FAILED) {  // on hugetlbfs: the pool cannot reserve the pages
    throw_errno(ErrorCategory::resource, "cannot map shared segment", errno, {{"segment", b.path}, {"bytes", std::to_string(total)}});
  }
  s.base_ = static_cast<std::byte*>(p);
  s.mapped_ = total;
  s.data_ = s.base_ + b.data_offset;
  s.bytes_ = bytes;

  allocate_pages(s.base_, b.page, s.fd_, 0, b.path);  // the header page, before writing it
  Header* h = s.header();
  h->version = kVersion;
  h->data_offset = b.data_offset;
  h->bytes = bytes;
  h->generation = new_generation();
  h->creator_pid = ::getpid();
  std::atomic_ref<std::uint64_t>(h->magic).store(kMagic, std::memory_order_release);

  const std::uint64_t data_len = total - b.data_offset;
  if (options.placement && data_len > 0) {
    // For shared memory the policy is the object's, so it holds whichever rank faults a page.
    detail::apply_placement_if_real(*options.topology, s.data_, data_len, *options.placement);
  }
  if (!b.hugetlbfs && options.transparent_huge_pages && data_len > 0) {
    ::madvise(s.data_, data_len, MADV_HUGEPAGE);  // advice only: refused when THP is off
  }
  if (options.allocate_on_create) allocate_pages(s.data_, data_len, s.fd_, b.data_offset, b.path);
  return s;
}

bool SharedSegment::allocate(std::uint64_t offset, std::uint64_t length, const Topology* topology,
                             const std::optional<Placement>& placement) {
  if (offset > bytes_ || length > bytes_ - offset) {
    throw Error(ErrorCategory::invalid_argument, "allocation outside the shared segment",
                {{"segment", path_}, {"offset", std::to_string(offset)},
                 {"bytes", std::to_string(length)}, {"size", std::to_string(bytes_)}});
  }
  if (!writable_) {
    throw Error(ErrorCategory::invalid_argument,
                "cannot allocate in a read-only attachment (attach_writable)", {{"segment", path_}});
  }
  if (length == 0) return false;
  const std::uint64_t first = offset / page_ * page_;
  const std::uint64_t end = round_up(offset + length, page_);
  bool placed = false;
  if (topology != nullptr && placement) {
    detail::validate_nodes(*topology, *placement);
    placed = detail::apply_placement_if_real(*topology, data_ + first, end - first, *placement);
  }
  allocate_pages(data_ + first, end - first, fd_,
                 static_cast<std::uint64_t>(data_ - base_) + first, path_);
  return placed;
}

SharedSegment SharedSegment::share_file(const std::string& path, const std::string& name,
                                        const SharedSegmentOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw_errno("cannot open file", errno, {{"file", path}});
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(ErrorCategory::io, "cannot share: not a readable regular file", {{"file", path}});
  }
  const std::uint64_t tag = file_tag(st);
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  SharedSegment s = open_segment(name, file_bytes, options, false);
  if (!s.owner_) {
    if (s.header()->source_tag != tag || s.bytes_ != file_bytes) {
      throw Error(ErrorCategory::corrupt_data,
                  "the shared segment holds another version of the file (left by an earlier "
                  "run?); remove it with SharedSegment::remove and retry",
                  {{"file", path}, {"segment", s.path_}});
    }
    return s;
  }
  std::uint64_t done = 0;
  while (done < file_bytes) {
    ssize_t n = ::pread(fd, s.data_ + done, file_bytes - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw_errno("cannot read file", errno, {{"file", path}});
    }
    if (n == 0) {
      throw Error(ErrorCategory::corrupt_data, "file shrank while it was being shared",
                  {{"file", path},
                   {"file_bytes", std::to_string(done)},
                   {"needed_bytes", std::to_string(file_bytes)}});
    }
    done += static_cast<std::uint64_t>(n);
  }
  s.header()->source_tag = tag;
  s.mark_ready();
  return s;
}

bool SharedSegment::remove(const std::string& name, const SharedSegmentOptions& options) {
  const Backing b = backing_for(name, options);
  if (unlink_object(b) == 0) return true;
  if (errno == ENOENT) return false;
  throw_errno("cannot remove shared segment", errno, {{"segment", b.path}});
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept { *this = std::move(other); }

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    release();
    name_ = std::move(other.name_);
    path_ = std::move(other.path_);
    hugetlbfs_ = other.hugetlbfs_;
    owner_ = std::exchange(other.owner_, false);
    unlinked_ = other.unlinked_;
    writable_ = std::exchange(other.writable_, false);
    page_ = other.page_;
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    mapped_ = std::exchange(other.mapped_, 0);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

SharedSegment::~SharedSegment() { release(); }

detail::SegmentHeader* SharedSegment::header() const noexcept {
  return reinterpret_cast<Header*>(base_);
}

void SharedSegment::release() noexcept {
  if (owner_ && !ready()) {
    // Reading the magic cannot fault: an unwritten header page of shared memory reads as zeros.
    Header* h = header();
    if (h != nullptr &&
        std::atomic_ref<std::uint64_t>(h->magic).load(std::memory_order_acquire) == kMagic) {
      std::atomic_ref<std::uint32_t>(h->state).store(kFailed, std::memory_order_release);
    }
    if (!unlinked_) {
      if (hugetlbfs_) {
        ::unlink(path_.c_str());
      } else {
        ::shm_unlink(name_.c_str());
      }
    }
  }
  if (base_ != nullptr) ::munmap(base_, mapped_);
  if (fd_ >= 0) ::close(fd_);
  base_ = nullptr;
  data_ = nullptr;
  fd_ = -1;
  owner_ = false;
}

bool SharedSegment::ready() const noexcept {
  return base_ != nullptr && load_state(header()->state) == kReady;
}

std::uint64_t SharedSegment::generation() const noexcept {
  return base_ == nullptr ? 0 : header()->generation;
}

void SharedSegment::mark_ready() {
  if (!owner_) {
    throw Error(ErrorCategory::invalid_argument, "only the creator marks a segment ready",
                {{"segment", path_}});
  }
  std::atomic_ref<std::uint32_t>(header()->state).store(kReady, std::memory_order_release);
}

void SharedSegment::unlink() {
  if (!owner_) {
    throw Error(ErrorCategory::invalid_argument, "only the creator unlinks a segment",
                {{"segment", path_}});
  }
  if (unlinked_) return;
  int rc = hugetlbfs_ ? ::unlink(path_.c_str()) : ::shm_unlink(name_.c_str());
  if (rc != 0 && errno != ENOENT) {
    throw_errno("cannot unlink shared segment", errno, {{"segment", path_}});
  }
  unlinked_ = true;
}

}  // namespace strata
