// SPDX-License-Identifier: Apache-2.0
// MappedViewCache: read-only mapped views of ranges of many files under one budget of mapped bytes.
// Ranges are served from windows aligned to 2 MiB; a window that already covers a range is reused
// (a hit), least recently used windows nobody holds are unmapped when the budget is exceeded, and
// the file handles behind them are pooled, the least recently used closed beyond a cap.
//
//   strata::MappedViewCache cache(8ull << 30, 256);            // 8 GiB mapped, 256 open files
//   auto view = cache.acquire("/data/run7.strata", offset, 4096);
//   consume(view->bytes());                                    // valid while `view` is held
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace strata {

namespace detail {
struct MappedWindow;
struct ViewCacheState;
}  // namespace detail

// A read-only view of one range of a file. It keeps the window it lies in mapped while it lives,
// also after the cache is gone.
class MappedView {
 public:
  // Made by MappedViewCache only (the window types are private to it).
  MappedView(std::shared_ptr<const detail::MappedWindow> window, std::span<const std::byte> bytes,
             std::uint64_t offset, std::weak_ptr<detail::ViewCacheState> cache);
  MappedView(const MappedView&) = delete;
  MappedView& operator=(const MappedView&) = delete;
  // Releasing the last view of a window lets the cache unmap it if it is over budget.
  ~MappedView();

  // Exactly the bytes asked for. Checked against the file's size when acquired; a file truncated
  // while the view is in use can still fault on access (use MappedFile::read for a copy that never
  // does).
  std::span<const std::byte> bytes() const& noexcept { return bytes_; }
  std::span<const std::byte> bytes() const&& = delete;  // the window is kept mapped by the view
  std::uint64_t offset() const noexcept { return offset_; }
  const std::string& path() const noexcept;

 private:
  std::shared_ptr<const detail::MappedWindow> window_;
  std::span<const std::byte> bytes_;
  std::uint64_t offset_ = 0;
  std::weak_ptr<detail::ViewCacheState> cache_;
};

struct ViewCacheStatistics {
  std::uint64_t hits = 0;          // acquires served by a window already mapped
  std::uint64_t misses = 0;        // acquires that mapped a new window
  std::uint64_t evictions = 0;     // windows unmapped to stay within the budget
  std::uint64_t mapped_bytes = 0;  // bytes of the windows mapped now
  std::uint64_t mapped_windows = 0;
  std::uint64_t open_files = 0;    // file handles open now
  std::uint64_t files_opened = 0;  // opens so far (reopens after the pool closed one count again)
};

class MappedViewCache {
 public:
  // Windows are 2 MiB: the alignment of .strata arrays, and the size at which one mmap call and one
  // VMA cover enough bytes that mapping costs little next to reading them.
  static constexpr std::uint64_t kDefaultWindowBytes = std::uint64_t{2} << 20;

  // `budget_bytes` (> 0) caps the bytes mapped by windows nobody holds: held views are never
  // unmapped, so while they are held the total may exceed it, and it is brought back under as they
  // are released. `max_open_files` (>= 1) caps the pooled file handles. `window_bytes` must be a
  // positive multiple of the page size. Error(invalid_argument) otherwise.
  MappedViewCache(std::uint64_t budget_bytes, std::size_t max_open_files,
                  std::uint64_t window_bytes = kDefaultWindowBytes);
  MappedViewCache(const MappedViewCache&) = delete;
  MappedViewCache& operator=(const MappedViewCache&) = delete;
  // Closes the pooled handles and unmaps what nobody holds; views still held stay valid.
  ~MappedViewCache();

  // A view of [offset, offset + bytes) of the regular file at `path` (bytes == 0 gives an empty
  // view). Every call checks the file (stat): Error(io) naming the file when it cannot be opened or
  // mapped, Error(resource) when the process is out of file handles or address space,
  // Error(corrupt_data) naming the file when it is shorter than the range (as after a truncation),
  // Error(invalid_argument) when offset + bytes overflows. A file replaced under the same path (a
  // new inode) drops the old file's windows. Thread-safe.
  std::shared_ptr<const MappedView> acquire(const std::string& path, std::uint64_t offset,
                                            std::uint64_t bytes);

  // Unmaps windows nobody holds, least recently used first, until at most `target_bytes` stay
  // mapped (held windows stay, so it may end above). The budget is unchanged: the cache grows
  // back as it is used. Returns the bytes unmapped. The memory-pressure monitor calls it.
  std::uint64_t shrink(std::uint64_t target_bytes) noexcept;

  ViewCacheStatistics statistics() const;
  std::uint64_t budget_bytes() const noexcept { return budget_bytes_; }
  std::uint64_t window_bytes() const noexcept { return window_bytes_; }

 private:
  std::uint64_t budget_bytes_;
  std::uint64_t window_bytes_;
  std::shared_ptr<detail::ViewCacheState> state_;
};

}  // namespace strata
