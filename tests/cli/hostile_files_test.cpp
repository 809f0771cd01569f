// SPDX-License-Identifier: Apache-2.0
// Tests of the dataset commands against hostile files, as a user runs them: chunk sizes whose
// arithmetic wraps, files truncated while they are read, symlinks planted at the names strata
// writes, and FIFOs given as input. Each must be one clear stderr line and an exit below 128.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/scratch_folder.hpp"
#include "run_command.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

// A per-test scratch folder, removed afterwards.
class HostileFiles : public strata::test::ScratchFolderTest {
 protected:
  HostileFiles() : ScratchFolderTest("strata-cli-hostile-files") {}

  static std::vector<char> load(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), {});
  }
  static void store(const std::string& p, const std::vector<char>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  static void set_u64(std::vector<char>& f, std::size_t offset, std::uint64_t v) {
    std::memcpy(f.data() + offset, &v, 8);
  }
  // Recomputes the table and header checksums after a patch (offsets from docs/formats.md).
  static void reseal(std::vector<char>& f) {
    std::uint64_t table_bytes;
    std::memcpy(&table_bytes, f.data() + 128, 8);
    set_u64(f, 136, XXH3_64bits(f.data() + 512, table_bytes));
    set_u64(f, 504, XXH3_64bits(f.data(), 504));
  }
  // A failure a user can read: an exit code from 1 to 127 (not a signal) and one stderr line.
  static void expect_clean_failure(const strata::test::CommandResult& r, const std::string& what) {
    EXPECT_GT(r.exit_code, 0) << what;
    EXPECT_LT(r.exit_code, 128) << what << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << what << ": " << r.err;
  }

};

// Proves gen refuses a chunk size near 2^64 (it wrapped the chunk count to 0) with one line and
// writes nothing.
TEST_F(HostileFiles, GenRefusesAChunkSizeNearTwoToThe64) {
  auto g = run_command(strata_cli + " gen " + path("x.strata") +
                       " --size 64K --chunk 18446744073709547520");
  expect_clean_failure(g, "gen --chunk 2^64-4096");
  EXPECT_NE(g.err.find("chunk"), std::string::npos) << g.err;
  EXPECT_TRUE(fs::is_empty(dir_));
}

// Proves a file whose chunk_bytes wraps the chunk count to 0, with a flipped data byte, is
// refused by verify and stats (before: "all 0 chunks verified", then SIGSEGV in stats).
TEST_F(HostileFiles, WrappedChunkCountIsRefusedByVerifyAndStats) {
  ASSERT_EQ(
      run_command(strata_cli + " gen " + path("x.strata") + " --size 64K --chunk 4K").exit_code, 0);
  std::vector<char> f = load(path("x.strata"));
  set_u64(f, 512 + 152, 18446744073709547520u);  // arrays[0].chunk_bytes = 2^64 - 4096
  set_u64(f, 512 + 160, 0);                      // arrays[0].chunk_count as the wrap computes it
  reseal(f);
  f[(2 << 20) + 100] ^= 0x10;  // data starts at 2 MiB
  store(path("x.strata"), f);
  for (const char* command : {" verify ", " stats ", " inspect "}) {
    auto r = run_command(strata_cli + command + path("x.strata"));
    expect_clean_failure(r, command);
    EXPECT_NE(r.err.find("chunk_bytes"), std::string::npos) << command << ": " << r.err;
  }
}

// Proves verify and stats on a file truncated after it was mapped and size-checked — while the
// chunks are being read — fail with one line naming the file instead of dying of SIGBUS. The
// preloaded hook truncates the file to its header and tables right after the N-th fstat of it,
// N = 20..23, among the per-chunk checks of the 64 chunks (one thread: a fixed order). stats
// checks each chunk inside its one pass, where size checks and reads (checksum, then kernel)
// alternate: an N just after a size check must hit a read, caught by the mapped-read guard ("truncated
// while it was being read"); an N just before one is caught by that check ("truncated after it
// was mapped").
TEST_F(HostileFiles, TruncatedWhileReadingIsAnError) {
  ASSERT_EQ(run_command(strata_cli + " gen " + path("x.strata") + " --size 4M --chunk 64K").exit_code, 0);
  const std::vector<char> whole = load(path("x.strata"));
  for (const char* command : {" verify --threads 1 ", " stats --threads 1 "}) {
    int caught_reading = 0;
    for (int n = 20; n <= 23; ++n) {
      const std::string hook = std::string("LD_PRELOAD=") + STRATA_TRUNCATE_HOOK_PATH +
                               " STRATA_TEST_TRUNCATE_AT_FSTAT=" + std::to_string(n) +
                               " STRATA_TEST_TRUNCATE_TO=2097152 STRATA_TEST_TRUNCATE_FILE=";
      store(path("x.strata"), whole);
      auto r = run_command(hook + path("x.strata") + " " + strata_cli + command + path("x.strata"));
      expect_clean_failure(r, command);
      caught_reading += r.err.find("truncated while it was being read") != std::string::npos;
      EXPECT_NE(r.err.find("truncated"), std::string::npos) << command << n << r.err;
      EXPECT_NE(r.err.find(path("x.strata")), std::string::npos) << command << r.err;
      EXPECT_EQ(fs::file_size(path("x.strata")), 2097152u) << "the hook did not truncate";
    }
    EXPECT_GE(caught_reading, 1) << command << ": no truncation landed inside a read";
  }
}

// Proves a FIFO given as input is refused at once with one line (inspect, verify and stats hung
// forever in open, and stats then ignored SIGTERM); `timeout` turns a hang into exit 137.
TEST_F(HostileFiles, FifoInputIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path("pipe.strata").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(path("pipe.h5").c_str(), 0600), 0);
  for (const std::string& args :
       {" inspect " + path("pipe.strata"), " verify " + path("pipe.strata"),
        " stats " + path("pipe.strata"), " stats " + path("pipe.h5") + ":/d",
        " export " + path("pipe.strata") + " " + path("out.h5")}) {
    auto r = run_command("timeout -s KILL 20 " + strata_cli + args);
    expect_clean_failure(r, args);
    EXPECT_NE(r.err.find("FIFO"), std::string::npos) << args << ": " << r.err;
  }
}

}  // namespace
