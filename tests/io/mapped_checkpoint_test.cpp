// SPDX-License-Identifier: Apache-2.0
// Mapped files in checkpoints, on one rank: protection follows a mapping that grow() moved and
// extended (and a grow on another thread waits for the copy), restore writes the bytes back into
// the file before it returns, a file of another size is refused, and a shared mapping that another
// process writes during save() gives a checkpoint that verifies and restores what was copied.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/scratch_folder.hpp"
#include "common/pagemap.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

using strata::MappedFile;
using strata::MappedFileOptions;
using strata::io::Checkpointer;
using strata::io::CheckpointOptions;

constexpr std::size_t kChunkBytes = 64 * 1024;

// Byte i of a file in version v.
std::byte pattern(std::size_t i, int v) { return static_cast<std::byte>(i * 31 + 7 * v + 1); }

void fill(std::span<std::byte> bytes, int v) {
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern(i, v);
}

// The first offset where `bytes` differs from version v, or bytes.size().
std::size_t first_difference(std::span<const std::byte> bytes, int v) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != pattern(i, v)) return i;
  }
  return bytes.size();
}

// `bytes` bytes of `path` from `offset`, through a descriptor of their own (not the mapping).
std::vector<std::byte> pread_file(const std::string& path, std::size_t offset, std::size_t bytes) {
  std::vector<std::byte> out(bytes);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  std::size_t done = 0;
  while (fd >= 0 && done < bytes) {
    ssize_t n = ::pread(fd, out.data() + done, bytes - done, static_cast<off_t>(offset + done));
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(done, bytes) << path;
  return out;
}

class MappedCheckpointTest : public strata::test::ScratchFolderTest {
 protected:
  MappedCheckpointTest() : ScratchFolderTest("strata-mapped-ckpt") {}

  CheckpointOptions options() const {
    CheckpointOptions o;
    o.dir = path("ckpt");
    o.chunk_bytes = kChunkBytes;
    o.keep = 16;
    return o;
  }

  strata::Runtime rt_{strata::RuntimeOptions{.install_stop_signals = false}};
  strata::Executor ex_{rt_, {.threads = 2}};
};

// Proves a save after grow() holds the grown contents: the mapping is made to move (the address
// after it is taken), so a checkpointer that kept the old span would read unmapped memory (ASan,
// or a SIGSEGV) or save only the old bytes; restore gives back every grown byte.
TEST_F(MappedCheckpointTest, SaveAfterGrowHoldsTheGrownContents) {
  auto file = MappedFile::open(path("state.bin"), MappedFileOptions().read_write().create(8192));
  fill(file.writable_bytes(0, file.size()), 1);
  constexpr std::size_t kGrown = 3 * kChunkBytes + 5;
  {
    Checkpointer ck(rt_, ex_, options());
    ck.protect("state", file);
    ck.save(1);
    ck.wait();
    // Take the page after the mapping so that mremap has to move it.
    void* after = file.writable_bytes(0, 1).data() + 8192;
    void* blocker =
        ::mmap(after, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    const void* before_grow = file.bytes(0, 1).data();
    file.grow(kGrown);
    if (blocker == after) {
      EXPECT_NE(file.bytes(0, 1).data(), before_grow) << "the mapping did not move";
    }
    if (blocker != MAP_FAILED) ::munmap(blocker, 4096);
    fill(file.writable_bytes(0, file.size()), 2);
    ck.save(2);
    EXPECT_EQ(ck.wait().raw_bytes, kGrown);
  }
  fill(file.writable_bytes(0, file.size()), 3);
  Checkpointer ck(rt_, ex_, options());
  ck.protect("state", file);
  ASSERT_EQ(ck.restore_latest(), std::optional<long>(2));
  EXPECT_EQ(first_difference(file.bytes(0, file.size()), 2), kGrown);
}

// Proves a grow() on another thread during saves never races the copy (ASan or a SIGSEGV would
// catch a read of the unmapped old range) and every save commits; the last one, after the grows,
// restores all the bytes.
TEST_F(MappedCheckpointTest, GrowOnAnotherThreadWaitsForTheCopy) {
  auto file =
      MappedFile::open(path("state.bin"), MappedFileOptions().read_write().create(kChunkBytes));
  fill(file.writable_bytes(0, file.size()), 1);
  Checkpointer ck(rt_, ex_, options());
  ck.protect("state", file);
  std::atomic<bool> done{false};
  std::thread grower([&] {
    for (int i = 2; i <= 40; ++i) {
      file.grow(static_cast<std::uint64_t>(i) * kChunkBytes + 4096 * static_cast<unsigned>(i % 3));
    }
    done = true;
  });
  long step = 0;
  while (!done || step < 3) {
    ck.save(++step);
    EXPECT_EQ(ck.wait().state, strata::io::SaveState::committed);
  }
  grower.join();
  fill(file.writable_bytes(0, file.size()), 4);
  ck.save(++step);
  EXPECT_EQ(ck.wait().raw_bytes, file.size());
  fill(file.writable_bytes(0, file.size()), 5);
  ASSERT_EQ(ck.restore_latest(), std::optional<long>(step));
  EXPECT_EQ(first_difference(file.bytes(0, file.size()), 4), file.size());
}

// Proves restore_latest() writes the restored bytes back to the file before it returns: a
// separate descriptor reads them while the mapping is still open, and (where root can read page
// flags of a disk-backed file) a restored page that was dirty before the restore is clean after.
TEST_F(MappedCheckpointTest, RestoreFlushesTheMappingToTheFile) {
  constexpr std::size_t kBytes = 5 * kChunkBytes + 123;
  auto file = MappedFile::open(path("state.bin"), MappedFileOptions().read_write().create(kBytes));
  fill(file.writable_bytes(0, kBytes), 1);
  {
    Checkpointer ck(rt_, ex_, options());
    ck.protect("state", file);
    ck.save(1);
    ck.wait();
  }
  fill(file.writable_bytes(0, kBytes), 2);
  file.flush();
  auto page = file.writable_bytes(2 * kChunkBytes, 1);
  page[0] = std::byte{0};  // dirties one page again, which the restore overwrites
  const auto frame = strata::test::page_entries(page.data(), 1).at(0).frame;
  const std::optional<bool> dirty_before = strata::test::frame_dirty(frame);

  Checkpointer ck(rt_, ex_, options());
  ck.protect("state", file);
  ASSERT_EQ(ck.restore_latest(), std::optional<long>(1));
  if (dirty_before == true) {  // nullopt without root; false on tmpfs (no write-back there)
    EXPECT_EQ(strata::test::frame_dirty(strata::test::page_entries(page.data(), 1).at(0).frame),
              false);
  }
  const std::vector<std::byte> on_disk = pread_file(file.path(), 0, kBytes);
  EXPECT_EQ(first_difference(on_disk, 1), kBytes);
}

// Proves a rank-local mapped file of another size than the checkpoint's is refused with
// invalid_argument naming both sizes (not skipped as a damaged checkpoint), and left untouched.
TEST_F(MappedCheckpointTest, RestoreOntoAFileOfAnotherSizeIsRefused) {
  auto file = MappedFile::open(path("state.bin"), MappedFileOptions().read_write().create(10000));
  fill(file.writable_bytes(0, file.size()), 1);
  {
    Checkpointer ck(rt_, ex_, options());
    ck.protect("state", file);
    ck.save(1);
    ck.wait();
  }
  file.grow(20000);
  fill(file.writable_bytes(0, file.size()), 2);
  Checkpointer ck(rt_, ex_, options());
  ck.protect("state", file);
  try {
    ck.restore_latest();
    ADD_FAILURE() << "restore onto a grown file succeeded";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("10000 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("20000 protected"), std::string::npos) << e.what();
  }
  EXPECT_EQ(first_difference(file.bytes(0, file.size()), 2), file.size());
}

// Proves a row-layout mapped file grown to a partial row is refused at the next save with
// invalid_argument naming the file and the row size, before anything is written.
TEST_F(MappedCheckpointTest, GrowingIntoAPartialRowIsRefusedAtSave) {
  auto file = MappedFile::open(path("rows.bin"), MappedFileOptions().read_write().create(10 * 32));
  Checkpointer ck(rt_, ex_, options());
  ck.protect("rows", file, strata::io::MappedRows{strata::DType::f64, {4}});
  file.grow(10 * 32 + 3);
  try {
    ck.save(1);
    ADD_FAILURE() << "a save of a partial row succeeded";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("rows.bin"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("whole rows of 32 bytes"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(strata::io::list_checkpoints(options().dir).empty());
}

// Word i of the shared file after writer pass p: the pass in the high half, the index in the low.
std::uint64_t word(std::uint64_t pass, std::uint64_t i) { return (pass << 32) | i; }

// Proves the contract for a shared mapping that another process writes during save(): every
// checkpoint verifies (each chunk's XXH3 is of the bytes copied, even when the writer changed a
// chunk between an incremental save's hash and its copy), restore gives back exactly what the
// checkpoint holds, and every word is one the writer wrote at that place (a torn chunk mixes
// passes, never invents bytes).
TEST_F(MappedCheckpointTest, AnotherProcessWritingDuringSaveGivesCheckpointsThatVerify) {
  constexpr std::size_t kWords = 32 * kChunkBytes / 8;
  auto file =
      MappedFile::open(path("shared.bin"), MappedFileOptions().read_write().create(kWords * 8));
  auto* words = reinterpret_cast<std::uint64_t*>(file.writable_bytes(0, file.size()).data());
  for (std::size_t i = 0; i < kWords; ++i) words[i] = word(0, i);
  Checkpointer ck(rt_, ex_, options());
  ck.protect("shared", file, strata::io::MappedRows{strata::DType::u64, {}});

  int started[2];
  ASSERT_EQ(::pipe(started), 0);
  const pid_t writer = ::fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {  // the other process: its own mapping of the file, sweeping until killed
    int fd = ::open(file.path().c_str(), O_RDWR);
    void* m = fd < 0 ? MAP_FAILED
                     : ::mmap(nullptr, kWords * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) ::_exit(2);
    auto* w = static_cast<volatile std::uint64_t*>(m);
    // Across the chunks (word k of every chunk, then word k + 1): whenever it runs, it writes
    // into every chunk within a few microseconds, so a save's hash and copy of a chunk race it.
    constexpr std::size_t kChunkWords = kChunkBytes / 8;
    for (std::uint64_t pass = 1;; ++pass) {
      for (std::size_t k = 0; k < kChunkWords; ++k) {
        for (std::size_t i = k; i < kWords; i += kChunkWords) w[i] = word(pass, i);
      }
      if (pass == 1 && ::write(started[1], "1", 1) != 1) ::_exit(3);
    }
  }
  ::close(started[1]);
  char one = 0;
  ASSERT_EQ(::read(started[0], &one, 1), 1) << "the writer did not start";
  ::close(started[0]);
  constexpr long kSaves = 10;  // the first full, the others incremental
  for (long step = 1; step <= kSaves; ++step) {
    ck.save(step);
    ck.wait();
  }
  ::kill(writer, SIGKILL);
  int status = 0;
  ::waitpid(writer, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended by itself, status " << status;

  const std::string dir = options().dir;
  for (long step = 1; step <= kSaves; ++step) {
    EXPECT_EQ(strata::io::verify_checkpoint(dir, step), std::vector<std::string>{})
        << "step " << step;
  }
  const std::vector<std::byte> saved = strata::io::read_checkpoint_region(dir, kSaves, "shared");
  ASSERT_EQ(saved.size(), kWords * 8);
  std::size_t foreign = 0;
  for (std::size_t i = 0; i < kWords; ++i) {
    std::uint64_t w = 0;
    std::memcpy(&w, saved.data() + i * 8, 8);
    foreign += (w & 0xffffffffu) != i || (w >> 32) == 0 ? 1 : 0;
  }
  EXPECT_EQ(foreign, 0u) << "words the writer never wrote there";

  for (std::size_t i = 0; i < kWords; ++i) words[i] = 0;
  ASSERT_EQ(ck.restore_latest(), std::optional<long>(kSaves));
  EXPECT_EQ(std::memcmp(file.bytes(0, file.size()).data(), saved.data(), saved.size()), 0);
}

}  // namespace
