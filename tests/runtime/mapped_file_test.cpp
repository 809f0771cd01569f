// SPDX-License-Identifier: Apache-2.0
// Tests of MappedFile: the three modes, truncation under a mapping as an error (never a SIGBUS),
// flush reaching the file, growth, advice and populate, placement, and a full disk at create().
#include "strata/runtime/files/mapped_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/vm_flags.hpp"
#include "common/pagemap.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

using strata::MapAdvice;
using strata::MappedFile;
using strata::MappedFileOptions;

constexpr std::size_t kKiB = 1 << 10;
constexpr std::size_t kMiB = 1 << 20;

// A file in the temp folder, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("strata-mf-" + std::to_string(::getpid()) + "-" + name)) {
    std::filesystem::remove(path_);
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

  // Writes `bytes` bytes where byte i is (i * 7 + 3) mod 256.
  void write_pattern(std::size_t bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    for (std::size_t i = 0; i < bytes; ++i) out.put(static_cast<char>(pattern(i)));
  }
  static unsigned char pattern(std::size_t i) { return static_cast<unsigned char>(i * 7 + 3); }

  // The file's bytes, read with a descriptor of its own (not through any mapping).
  std::string contents() const {
    std::ifstream in(path_, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

 private:
  std::filesystem::path path_;
};

void truncate_file(const std::string& path, off_t bytes) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, bytes), 0);
  ::close(fd);
}

// Proves a read-only mapping shows exactly the file's bytes, and read() copies the same bytes.
TEST(MappedFile, ReadOnlyShowsFileBytes) {
  TempFile file("ro");
  file.write_pattern(3 * 4096 + 100);
  auto f = MappedFile::open(file.path());
  EXPECT_EQ(f.size(), 3u * 4096 + 100);
  EXPECT_EQ(f.mode(), strata::MapMode::read_only);
  auto view = f.bytes(4090, 20);
  for (std::size_t i = 0; i < view.size(); ++i) {
    EXPECT_EQ(static_cast<unsigned char>(view[i]), TempFile::pattern(4090 + i)) << i;
  }
  std::vector<std::byte> copy(120);
  f.read(3 * 4096 - 20, copy);
  for (std::size_t i = 0; i < copy.size(); ++i) {
    EXPECT_EQ(static_cast<unsigned char>(copy[i]), TempFile::pattern(3 * 4096 - 20 + i)) << i;
  }
}

// Proves a file truncated under the mapping gives strata::Error(corrupt_data) naming the file from
// bytes(), writable_bytes() and read() — the process survives, so no SIGBUS was raised — while
// ranges still inside the shortened file keep working.
TEST(MappedFile, TruncatedUnderMappingIsAnErrorNotSigbus) {
  TempFile file("trunc");
  file.write_pattern(64 * kKiB);
  auto ro = MappedFile::open(file.path());
  auto cow = MappedFile::open(file.path(), MappedFileOptions().copy_on_write());
  truncate_file(file.path(), 4096);
  EXPECT_EQ(ro.size(), 64 * kKiB);
  EXPECT_EQ(ro.file_bytes(), 4096u);

  auto expect_corrupt = [&](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "no error for a range past the end of the truncated file";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
      EXPECT_EQ(e.context_value("file"), file.path());
    }
  };
  expect_corrupt([&] { (void)ro.bytes(8192, 16); });
  expect_corrupt([&] { (void)ro.bytes(4000, 200); });  // straddles the new end
  expect_corrupt([&] { (void)cow.writable_bytes(60 * kKiB, 16); });
  std::vector<std::byte> out(100);
  expect_corrupt([&] { ro.read(10000, out); });
  expect_corrupt([&] { ro.read(4050, out); });  // short read: 46 bytes then end of file
  expect_corrupt([&] { ro.populate(0, 64 * kKiB); });

  auto head = ro.bytes(0, 4096);
  EXPECT_EQ(static_cast<unsigned char>(head[4095]), TempFile::pattern(4095));
}

// Proves writes to a copy-on-write mapping are visible in the mapping but never reach the file,
// even after flush.
TEST(MappedFile, CopyOnWriteDoesNotReachFile) {
  TempFile file("cow");
  file.write_pattern(2 * 4096);
  const std::string before = file.contents();
  {
    auto f = MappedFile::open(file.path(), MappedFileOptions().copy_on_write());
    auto w = f.writable_bytes(100, 4000);
    std::memset(w.data(), 0xAB, w.size());
    EXPECT_EQ(f.bytes(100, 1)[0], std::byte{0xAB});
    f.flush();
  }
  EXPECT_EQ(file.contents(), before);
}

// Proves writes through a read-write mapping reach the file after a sync flush and after an async
// one (read back with a separate descriptor), that only the written bytes changed, and — where
// root can read page flags of a disk-backed file — that the sync flush really wrote the page back
// (dirty before, clean after).
TEST(MappedFile, ReadWriteFlushReachesFile) {
  TempFile file("rw");
  file.write_pattern(3 * 4096);
  ::sync();  // the pattern itself must not count as dirty
  auto f = MappedFile::open(file.path(), MappedFileOptions().read_write());
  auto w = f.writable_bytes(5000, 3);
  std::memcpy(w.data(), "xyz", 3);
  auto frame = strata::test::page_entries(w.data(), 1).at(0).frame;
  std::optional<bool> dirty_before = strata::test::frame_dirty(frame);
  f.flush(5000, 3);  // a range inside one page: widened to the page by flush
  if (dirty_before == true) {  // false on tmpfs, whose pages have no disk to be written back to
    EXPECT_EQ(strata::test::frame_dirty(frame), false);
  }
  std::string now = file.contents();
  ASSERT_EQ(now.size(), 3u * 4096);
  EXPECT_EQ(now.substr(5000, 3), "xyz");
  EXPECT_EQ(static_cast<unsigned char>(now[4999]), TempFile::pattern(4999));
  EXPECT_EQ(static_cast<unsigned char>(now[5003]), TempFile::pattern(5003));

  std::memcpy(f.writable_bytes(0, 2).data(), "AB", 2);
  f.flush(true);
  EXPECT_EQ(file.contents().substr(0, 2), "AB");
}

// Proves create() makes a file of the asked size whose blocks are allocated (not a sparse file),
// and that writes through it land in the file.
TEST(MappedFile, CreateAllocatesBlocks) {
  TempFile file("create");
  {
    auto f = MappedFile::open(file.path(), MappedFileOptions().read_write().create(4 * kMiB));
    EXPECT_EQ(f.size(), 4 * kMiB);
    f.writable_bytes(4 * kMiB - 1, 1)[0] = std::byte{'z'};
    f.flush();
  }
  struct stat st {};
  ASSERT_EQ(::stat(file.path().c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), 4 * kMiB);
  EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, 4 * kMiB);
  EXPECT_EQ(file.contents().back(), 'z');
}

// Proves grow extends the file and the mapping, keeps the old contents, and the new bytes are
// writable and reach the file.
TEST(MappedFile, GrowKeepsContents) {
  TempFile file("grow");
  file.write_pattern(10000);
  auto f = MappedFile::open(file.path(), MappedFileOptions().read_write());
  f.grow(5 * kMiB + 3);
  EXPECT_EQ(f.size(), 5 * kMiB + 3);
  EXPECT_EQ(f.file_bytes(), 5 * kMiB + 3);
  auto old = f.bytes(0, 10000);
  for (std::size_t i = 0; i < old.size(); i += 997) {
    EXPECT_EQ(static_cast<unsigned char>(old[i]), TempFile::pattern(i)) << i;
  }
  f.writable_bytes(5 * kMiB + 2, 1)[0] = std::byte{'q'};
  f.flush();
  std::string now = file.contents();
  ASSERT_EQ(now.size(), 5 * kMiB + 3);
  EXPECT_EQ(now.back(), 'q');
  EXPECT_EQ(static_cast<unsigned char>(now[9999]), TempFile::pattern(9999));
  EXPECT_EQ(now[10000], '\0');
}

// Proves grow() on another thread waits while the mapping is held (the view taken under the hold
// stays readable), and goes ahead once the hold is released.
TEST(MappedFile, GrowWaitsWhileTheMappingIsHeld) {
  TempFile file("hold");
  file.write_pattern(4096);
  auto f = MappedFile::open(file.path(), MappedFileOptions().read_write());
  std::atomic<bool> grown{false};
  std::thread grower;
  {
    auto held = f.hold_mapping();
    auto view = f.bytes(0, 4096);
    grower = std::thread([&] {
      f.grow(8 * kMiB);
      grown = true;
    });
    std::this_thread::sleep_for(
        std::chrono::milliseconds(100));  // time enough to grow, if it could
    EXPECT_FALSE(grown.load()) << "grow() went ahead while the mapping was held";
    EXPECT_EQ(static_cast<unsigned char>(view[4095]), TempFile::pattern(4095));
  }
  grower.join();
  EXPECT_TRUE(grown.load());
  EXPECT_EQ(f.size(), 8 * kMiB);
}

// Proves an empty file maps nothing: size 0, bytes(0, 0) is an empty view, anything more is an
// invalid_argument error, and a read-write empty file can grow.
TEST(MappedFile, EmptyFileMapsNothing) {
  TempFile file("empty");
  file.write_pattern(0);
  auto f = MappedFile::open(file.path(), MappedFileOptions().read_write());
  EXPECT_EQ(f.size(), 0u);
  EXPECT_TRUE(f.bytes(0, 0).empty());
  f.flush();
  f.advise(0, 0, MapAdvice::sequential);
  try {
    (void)f.bytes(0, 1);
    ADD_FAILURE() << "a byte of an empty file";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
  }
  f.grow(100);
  f.writable_bytes(99, 1)[0] = std::byte{'e'};
  f.flush();
  EXPECT_EQ(file.contents().size(), 100u);
  EXPECT_EQ(file.contents().back(), 'e');
}

// Proves every advice succeeds on each mode, dontneed really drops the range from this process's
// page tables, and populate (on open and on a range) really maps every page in, as pagemap shows.
TEST(MappedFile, AdviseAndPopulateSucceed) {
  TempFile file("advise");
  file.write_pattern(4 * kMiB);
  const std::size_t pages = 4 * kMiB / 4096;
  for (auto opts : {MappedFileOptions().read_only(), MappedFileOptions().read_write(),
                    MappedFileOptions().copy_on_write()}) {
    auto f = MappedFile::open(file.path(), opts.populate().advise(MapAdvice::sequential));
    auto view = f.bytes(0, f.size());
    EXPECT_EQ(strata::test::present_pages(view.data(), view.size()), pages);
    for (MapAdvice a : {MapAdvice::normal, MapAdvice::sequential, MapAdvice::random,
                        MapAdvice::willneed, MapAdvice::dontneed}) {
      f.advise(1, 2 * kMiB, a);
    }
    // dontneed covered [0, 2 MiB + 1 page) once widened to pages.
    EXPECT_EQ(strata::test::present_pages(view.data(), view.size()), pages - 2 * kMiB / 4096 - 1);
    f.populate(0, f.size());
    EXPECT_EQ(strata::test::present_pages(view.data(), view.size()), pages);
    EXPECT_EQ(static_cast<unsigned char>(view[3 * kMiB]), TempFile::pattern(3 * kMiB));
  }
}

// Proves huge_pages advice reaches the kernel: the mapping carries VmFlags "hg" (MADV_HUGEPAGE),
// given on open or later on a range, on a read-only file mapping; fails if the advice is dropped.
TEST(MappedFile, HugePagesAdviceMarksTheMapping) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) {
    GTEST_SKIP() << "no transparent huge pages in this kernel";
  }
  TempFile file("hugepages");
  file.write_pattern(4 * kMiB);
  auto advised = MappedFile::open(file.path(), MappedFileOptions().advise(MapAdvice::huge_pages));
  EXPECT_TRUE(strata::test::has_vm_flag(advised.bytes(0, 1).data(), "hg"));
  auto plain = MappedFile::open(file.path(), MappedFileOptions());
  EXPECT_FALSE(strata::test::has_vm_flag(plain.bytes(0, 1).data(), "hg"));
  plain.advise(0, plain.size(), MapAdvice::huge_pages);
  EXPECT_TRUE(strata::test::has_vm_flag(plain.bytes(0, 1).data(), "hg"));
  EXPECT_EQ(static_cast<unsigned char>(plain.bytes(0, plain.size())[3 * kMiB]),
            TempFile::pattern(3 * kMiB));
}

// Proves a placement on the mapping is accepted for every policy on this machine (node 0 exists
// everywhere), and an unknown node is refused with invalid_argument.
TEST(MappedFile, PlacementOnMapping) {
  TempFile file("place");
  file.write_pattern(1 * kMiB);
  static strata::Topology topo = strata::Topology::load();
  for (strata::Placement p : {strata::Placement::local(), strata::Placement::bind(0),
                              strata::Placement::interleave(), strata::Placement::preferred(0)}) {
    SCOPED_TRACE(p.to_string());
    auto f = MappedFile::open(file.path(),
                              MappedFileOptions().copy_on_write().placement(p, topo).populate());
    f.writable_bytes(0, 1)[0] = std::byte{1};
    EXPECT_EQ(f.bytes(1, 1)[0], std::byte{TempFile::pattern(1)});
  }
  try {
    MappedFile::open(file.path(),
                     MappedFileOptions().placement(strata::Placement::bind(999), topo));
    ADD_FAILURE() << "node 999 accepted";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
  }
}

// Proves misuse is refused with invalid_argument: writable views of read-only mappings, ranges
// past the end, create() without read_write, growing a copy-on-write mapping, shrinking.
TEST(MappedFile, MisuseIsInvalidArgument) {
  TempFile file("misuse");
  file.write_pattern(4096);
  auto ro = MappedFile::open(file.path());
  auto rw = MappedFile::open(file.path(), MappedFileOptions().read_write());
  auto cow = MappedFile::open(file.path(), MappedFileOptions().copy_on_write());
  std::vector<std::function<void()>> calls = {
      [&] { (void)ro.writable_bytes(0, 1); },
      [&] { (void)ro.bytes(4000, 97); },
      [&] { (void)ro.bytes(UINT64_MAX, 2); },
      [&] { std::vector<std::byte> b(2); ro.read(4095, b); },
      [&] { MappedFile::open(file.path(), MappedFileOptions().create(10)); },
      [&] { cow.grow(8192); },
      [&] { rw.grow(100); },
  };
  for (std::size_t i = 0; i < calls.size(); ++i) {
    try {
      calls[i]();
      ADD_FAILURE() << "call " << i << " accepted";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument) << i;
    }
  }
}

// Proves a missing file is Error(io) naming it.
TEST(MappedFile, MissingFileIsIoError) {
  TempFile file("missing");
  try {
    MappedFile::open(file.path());
    ADD_FAILURE() << "opened a missing file";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::io);
    EXPECT_EQ(e.context_value("file"), file.path());
  }
}

// Proves a moved-from MappedFile is empty and the moved-to one owns the mapping.
TEST(MappedFile, MoveTransfersOwnership) {
  TempFile file("move");
  file.write_pattern(4096);
  auto a = MappedFile::open(file.path());
  MappedFile b = std::move(a);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(a.native_handle(), -1);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(static_cast<unsigned char>(b.bytes(7, 1)[0]), TempFile::pattern(7));
}

// Proves create() on a full disk fails up front with Error(resource) naming the file, and leaves
// no half-made file behind. Uses a 1 MiB tmpfs mounted by the test.
TEST(MappedFile, FullDiskFailsAtCreate) {
  auto dir =
      std::filesystem::temp_directory_path() / ("strata-mf-tmpfs-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    int err = errno;
    std::filesystem::remove(dir);
    GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(err);
  }
  const std::string path = (dir / "big").string();
  try {
    MappedFile::open(path, MappedFileOptions().read_write().create(8 * kMiB));
    ADD_FAILURE() << "created 8 MiB on a 1 MiB file system";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::resource);
    EXPECT_EQ(e.context_value("file"), path);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  // Growth past the disk is refused the same way.
  {
    auto f = MappedFile::open(path, MappedFileOptions().read_write().create(64 * kKiB));
    try {
      f.grow(8 * kMiB);
      ADD_FAILURE() << "grew to 8 MiB on a 1 MiB file system";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::resource);
      EXPECT_EQ(e.context_value("file"), path);
    }
    EXPECT_EQ(f.size(), 64 * kKiB);
  }
  ::umount(dir.c_str());
  std::filesystem::remove_all(dir);
}

}  // namespace
