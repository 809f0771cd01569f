// SPDX-License-Identifier: Apache-2.0
// MappedViewCache: windows kept in one LRU list under a byte budget, indexed per file by start
// offset, and file handles in a second LRU list under a count cap. A window is "held" while any
// view shares it (its use count is above the cache's own reference); only unheld windows are
// unmapped, and releasing the last view of a window brings the cache back within its budget.
#include "strata/runtime/base/round_up.hpp"
#include "strata/runtime/files/mapped_view_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/machine/huge_pages.hpp"

namespace strata {
namespace detail {

struct MappedWindow {
  std::string path;
  std::uint64_t start = 0;  // file offset of data[0]
  std::uint64_t bytes = 0;  // mapped length, whole pages
  std::byte* data = nullptr;

  MappedWindow() = default;
  MappedWindow(const MappedWindow&) = delete;
  MappedWindow& operator=(const MappedWindow&) = delete;
  ~MappedWindow() {
    if (data != nullptr) ::munmap(data, bytes);
  }
};

struct ViewCacheState {
  using Lru = std::list<std::shared_ptr<MappedWindow>>;  // most recently used first

  struct File {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    std::multimap<std::uint64_t, Lru::iterator> windows;  // by start offset
    std::uint64_t longest_window = 0;  // bounds the backwards search for a covering window
    std::list<std::string>::iterator fd_position;  // in open_fds, while fd >= 0
  };

  std::uint64_t budget_bytes = 0;
  std::uint64_t window_bytes = 0;
  std::size_t max_open_files = 0;

  std::mutex mutex;
  Lru lru;
  std::unordered_map<std::string, File> files;
  std::list<std::string> open_fds;  // paths with an open handle, most recently used first
  ViewCacheStatistics stats;

  ~ViewCacheState() {
    for (auto& [path, file] : files) {
      if (file.fd >= 0) ::close(file.fd);
    }
  }

  // Whether only the cache references the window, so unmapping it can hurt nobody. Views take
  // their reference under the mutex, so a count of one cannot rise while we hold it.
  static bool held(const std::shared_ptr<MappedWindow>& w) noexcept { return w.use_count() > 1; }

  // Removes a window from the cache (unmapping it unless a view still holds it). Forgets the file
  // when it has neither windows nor a handle left, unless it is `keep` (the one being served).
  void drop(Lru::iterator it, const File* keep) noexcept {
    auto found = files.find((*it)->path);
    File& file = found->second;
    auto [first, last] = file.windows.equal_range((*it)->start);
    for (auto w = first; w != last; ++w) {
      if (w->second == it) {
        file.windows.erase(w);
        break;
      }
    }
    stats.mapped_bytes -= (*it)->bytes;
    --stats.mapped_windows;
    lru.erase(it);
    if (file.windows.empty() && file.fd < 0 && &file != keep) files.erase(found);
  }

  // Unmaps unheld windows, least recently used first, until at most `limit` bytes are mapped or
  // every window left is held.
  void evict_to(std::uint64_t limit, const File* keep) noexcept {
    auto it = lru.end();
    while (stats.mapped_bytes > limit && it != lru.begin()) {
      --it;
      if (held(*it)) continue;
      auto victim = it++;
      drop(victim, keep);
      ++stats.evictions;
    }
  }

  // Drops every window of a file whose path now names another inode: held ones stay valid for
  // their holders but leave the cache.
  void forget_windows(File& file) noexcept {
    while (!file.windows.empty()) drop(file.windows.begin()->second, &file);
    file.longest_window = 0;
  }

  void close_handle(File& file) noexcept {
    if (file.fd < 0) return;
    ::close(file.fd);
    file.fd = -1;
    open_fds.erase(file.fd_position);
    --stats.open_files;
  }

  // The pooled handle of `path`, opening it (and closing the least recently used beyond the cap)
  // when it is not open.
  int handle(const std::string& path, File& file) {
    if (file.fd >= 0) {
      open_fds.splice(open_fds.begin(), open_fds, file.fd_position);
      return file.fd;
    }
    while (!open_fds.empty() && open_fds.size() >= max_open_files) {
      auto lru_file = files.find(open_fds.back());
      close_handle(lru_file->second);
      if (lru_file->second.windows.empty()) files.erase(lru_file);
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      throw_errno("cannot open file", err, {{"file", path}});
    }
    file.fd = fd;
    open_fds.push_front(path);
    file.fd_position = open_fds.begin();
    ++stats.open_files;
    ++stats.files_opened;
    return fd;
  }

  // Releasing a view may have left the cache above budget with nothing to stop the eviction.
  void trim() noexcept {
    std::lock_guard lock(mutex);
    if (stats.mapped_bytes > budget_bytes) evict_to(budget_bytes, nullptr);
  }
};

}  // namespace detail

namespace {

using detail::MappedWindow;
using detail::ViewCacheState;

[[noreturn]] void throw_shorter(const std::string& path, std::uint64_t file_bytes,
                                std::uint64_t needed) {
  throw Error(ErrorCategory::corrupt_data, "file is shorter than the range asked for",
              {{"file", path},
               {"file_bytes", std::to_string(file_bytes)},
               {"needed_bytes", std::to_string(needed)}});
}


}  // namespace

MappedView::MappedView(std::shared_ptr<const detail::MappedWindow> window,
                       std::span<const std::byte> bytes, std::uint64_t offset,
                       std::weak_ptr<detail::ViewCacheState> cache)
    : window_(std::move(window)), bytes_(bytes), offset_(offset), cache_(std::move(cache)) {}

MappedView::~MappedView() {
  window_.reset();  // first, so the cache sees the window as no longer held by this view
  if (auto cache = cache_.lock()) cache->trim();
}

const std::string& MappedView::path() const noexcept {
  static const std::string none;
  return window_ ? window_->path : none;
}

MappedViewCache::MappedViewCache(std::uint64_t budget_bytes, std::size_t max_open_files,
                                 std::uint64_t window_bytes)
    : budget_bytes_(budget_bytes),
      window_bytes_(window_bytes),
      state_(std::make_shared<ViewCacheState>()) {
  std::uint64_t page = base_page_bytes();
  if (budget_bytes == 0 || max_open_files == 0 || window_bytes == 0 || window_bytes % page != 0) {
    throw Error(ErrorCategory::invalid_argument,
                "a view cache needs a budget, at least one file handle, and windows of whole pages",
                {{"budget_bytes", std::to_string(budget_bytes)},
                 {"max_open_files", std::to_string(max_open_files)},
                 {"window_bytes", std::to_string(window_bytes)}});
  }
  state_->budget_bytes = budget_bytes;
  state_->window_bytes = window_bytes;
  state_->max_open_files = max_open_files;
}

MappedViewCache::~MappedViewCache() {
  std::lock_guard lock(state_->mutex);
  // Views that outlive the cache keep their windows; everything else goes now, not when the last
  // view lets go of the state.
  while (!state_->lru.empty()) state_->drop(std::prev(state_->lru.end()), nullptr);
  for (auto& [path, file] : state_->files) state_->close_handle(file);
  state_->files.clear();
}

std::shared_ptr<const MappedView> MappedViewCache::acquire(const std::string& path,
                                                           std::uint64_t offset,
                                                           std::uint64_t bytes) {
  if (bytes > UINT64_MAX - offset) {
    throw Error(ErrorCategory::invalid_argument, "range overflows",
                {{"file", path}, {"offset", std::to_string(offset)},
                 {"bytes", std::to_string(bytes)}});
  }
  const std::uint64_t end = offset + bytes;
  // The size check on every call is what turns a truncated file into an error rather than a
  // SIGBUS on a cached window; stat outside the lock keeps the syscall off the shared path.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw_errno("cannot stat file", errno, {{"file", path}});
  }
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCategory::io, "not a regular file", {{"file", path}});
  if (static_cast<std::uint64_t>(st.st_size) < end) throw_shorter(path, st.st_size, end);
  if (bytes == 0) {
    return std::make_shared<const MappedView>(nullptr, std::span<const std::byte>{}, offset,
                                              std::weak_ptr<ViewCacheState>{});
  }

  ViewCacheState& s = *state_;
  std::lock_guard lock(s.mutex);
  auto [entry, added] = s.files.try_emplace(path);
  ViewCacheState::File& file = entry->second;
  if (added) {
    file.dev = st.st_dev;
    file.ino = st.st_ino;
  } else if (file.dev != st.st_dev || file.ino != st.st_ino) {
    s.forget_windows(file);
    s.close_handle(file);
    file.dev = st.st_dev;
    file.ino = st.st_ino;
  }

  auto make_view = [&](const std::shared_ptr<MappedWindow>& w) {
    std::span<const std::byte> range(w->data + (offset - w->start), bytes);
    return std::make_shared<const MappedView>(w, range, offset, state_);
  };

  // A hit: a window starting at or before `offset` that reaches `end`. Windows starting more than
  // the longest window before `offset` cannot reach it, which bounds the walk.
  for (auto it = file.windows.upper_bound(offset); it != file.windows.begin();) {
    --it;
    if (offset - it->first >= file.longest_window) break;
    const auto& w = *it->second;
    if (w->start + w->bytes >= end) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      ++s.stats.hits;
      return make_view(w);
    }
  }

  // A miss: map the window-aligned range around the request, as far as the file goes.
  int fd = s.handle(path, file);
  struct stat now {};
  if (::fstat(fd, &now) != 0) {
    throw_errno("cannot stat file", errno, {{"file", path}});
  }
  if (now.st_dev != file.dev || now.st_ino != file.ino) {
    // Replaced between the stat above and the open: the handle is the file to map, and what was
    // cached under this path is the old one.
    s.forget_windows(file);
    file.dev = now.st_dev;
    file.ino = now.st_ino;
  }
  if (static_cast<std::uint64_t>(now.st_size) < end) throw_shorter(path, now.st_size, end);
  const std::uint64_t start = offset / s.window_bytes * s.window_bytes;
  const std::uint64_t stop = std::min(round_up(end, s.window_bytes),
                                      round_up(static_cast<std::uint64_t>(now.st_size),
                                               base_page_bytes()));
  const std::uint64_t len = stop - start;
  // Make room first, so the new window never pushes the mapped total over the budget.
  s.evict_to(s.budget_bytes - std::min(s.budget_bytes, len), &file);
  auto window = std::make_shared<MappedWindow>();
  window->path = path;
  window->start = start;
  void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
  if (p == MAP_FAILED) {
    int err = errno;
    throw_errno("cannot map file", err, {{"file", path},
                 {"offset", std::to_string(start)},
                 {"bytes", std::to_string(len)}});
  }
  window->bytes = len;
  window->data = static_cast<std::byte*>(p);
  s.lru.push_front(window);
  file.windows.emplace(start, s.lru.begin());
  file.longest_window = std::max(file.longest_window, len);
  s.stats.mapped_bytes += len;
  ++s.stats.mapped_windows;
  ++s.stats.misses;
  return make_view(window);
}

std::uint64_t MappedViewCache::shrink(std::uint64_t target_bytes) noexcept {
  std::lock_guard lock(state_->mutex);
  const std::uint64_t before = state_->stats.mapped_bytes;
  state_->evict_to(target_bytes, nullptr);
  return before - state_->stats.mapped_bytes;
}

ViewCacheStatistics MappedViewCache::statistics() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

}  // namespace strata
