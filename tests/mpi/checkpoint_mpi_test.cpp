// SPDX-License-Identifier: Apache-2.0
// The Checkpointer's guarantees under mpiexec with 1, 2 and 4 ranks: a restore gives back exactly
// what was saved (also into another block layout), saves are snapshots taken at save() time,
// incremental saves rewrite only changed chunks, a failure on one rank aborts the checkpoint on
// all and keeps the previous one, damaged checkpoints are skipped with a reason, and retention
// never removes what a kept checkpoint references; with levels, a save commits in node-local
// folders with partner copies and drains to the shared folder, and a lost node is rebuilt.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <strata/strata.hpp>

namespace {

namespace fs = std::filesystem;
using strata::io::Checkpointer;
using strata::io::CheckpointOptions;
using strata::io::GlobalBlock;

strata::Runtime* the_runtime = nullptr;
strata::Runtime& rt() { return *the_runtime; }
strata::Executor* the_executor = nullptr;
strata::Executor& ex() { return *the_executor; }

constexpr std::size_t kCols = 1000;         // 8000-byte rows: chunks straddle rows
constexpr std::size_t kRowsPerRank = 37;    // odd, so chunks end mid-row
constexpr std::size_t kChunkBytes = 64 * 1024;

// A folder shared by all ranks, unique per test, removed at the end.
std::string shared_folder(const std::string& name) {
  std::string path;
  if (rt().rank() == 0) {
    std::string pattern = (fs::temp_directory_path() / ("strata-ckpt-" + name + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path = pattern;
  }
  auto bytes = rt().mpi().broadcast_bytes(std::as_bytes(std::span(path.data(), path.size())), 0);
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

void remove_shared(const std::string& path) {
  rt().mpi().barrier();
  if (rt().rank() == 0) fs::remove_all(path);
}

// Deterministic content for global row r, column c, version v.
double value(std::size_t r, std::size_t c, int v) { return static_cast<double>(r * 1000003 + c * 7 + v); }

struct Field {
  std::vector<double> data;
  std::size_t first_row = 0;
  std::size_t rows = 0;
  Field(std::size_t first, std::size_t n) : data(n * kCols), first_row(first), rows(n) {}
  void fill(int v) {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < kCols; ++c) data[r * kCols + c] = value(first_row + r, c, v);
  }
  bool holds(int v) const {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < kCols; ++c)
        if (data[r * kCols + c] != value(first_row + r, c, v)) return false;
    return true;
  }
  GlobalBlock block() const {
    return {strata::Shape{kRowsPerRank * static_cast<std::size_t>(rt().size()), kCols}, first_row};
  }
  // Protects these rows as region "u".
  void protect_in(Checkpointer& ck) { ck.protect("u", std::span(data), block()); }
};

// Fills the field with `version` and commits it as `step`.
void save_version(Checkpointer& ck, Field& f, int version, long step) {
  f.fill(version);
  ck.save(step);
  ck.wait();
}

Field even_field() {
  return Field(kRowsPerRank * static_cast<std::size_t>(rt().rank()), kRowsPerRank);
}

CheckpointOptions options(const std::string& dir) {
  CheckpointOptions o;
  o.dir = dir;
  o.keep = 2;
  o.chunk_bytes = kChunkBytes;
  return o;
}

bool all_ranks(bool ok) { return rt().mpi().allreduce_and(ok); }

// A saved state comes back exactly; new files and folders take their modes from the umask
// (0666 / 0777 & ~umask: umask 077 gives 0600 / 0700, never looser), and the existing checkpoint
// folder keeps its own mode (a shared 1777 folder is not re-permissioned).
TEST(Checkpoint, RoundTripRestoresExactBytesWithModesFromTheUmask) {
  const std::string dir = shared_folder("roundtrip");
  if (rt().rank() == 0) ::chmod(dir.c_str(), 01777);
  const mode_t old_umask = ::umask(077);
  Field f = even_field();
  {
    Checkpointer ck(rt(), ex(), options(dir));
    f.protect_in(ck);
    f.fill(1);
    ck.save(10);
    auto st = ck.wait();
    EXPECT_EQ(st.state, strata::io::SaveState::committed);
    EXPECT_EQ(st.raw_bytes, f.data.size() * sizeof(double));
  }
  f.fill(2);
  {
    Checkpointer ck(rt(), ex(), options(dir));
    f.protect_in(ck);
    EXPECT_EQ(ck.restore_latest(), std::optional<long>(10));
  }
  ::umask(old_umask);
  EXPECT_TRUE(all_ranks(f.holds(1)));
  if (rt().rank() == 0) {
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 01777u) << "the folder strata did not create keeps its mode";
    ASSERT_EQ(::stat((dir + "/step-00000010").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat((dir + "/step-00000010/shard-00000.sck").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((dir + "/step-00000010/manifest.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  remove_shared(dir);
}

// A symbolic link planted as the step's .tmp folder does not redirect the save: the save fails
// naming the folder, nothing is written into the link's target, and no step is committed.
TEST(Checkpoint, ASymlinkPlantedAsTheTempFolderIsRefused) {
  const std::string dir = shared_folder("tmplink");
  const std::string target = shared_folder("tmplink-target");
  Field f = even_field();
  Checkpointer ck(rt(), ex(), options(dir));
  f.protect_in(ck);
  if (rt().rank() == 0) fs::create_directory_symlink(target, dir + "/step-00000004.tmp");
  rt().mpi().barrier();
  f.fill(1);
  ck.save(4);
  bool threw = false;
  try {
    ck.wait();
  } catch (const strata::Error& e) {
    threw = std::string(e.what()).find("step-00000004.tmp") != std::string::npos;
  }
  EXPECT_TRUE(all_ranks(threw));
  rt().mpi().barrier();
  if (rt().rank() == 0) {
    EXPECT_TRUE(fs::is_empty(target)) << "nothing written through the link";
    EXPECT_FALSE(fs::exists(dir + "/step-00000004"));
  }
  remove_shared(target);
  remove_shared(dir);
}

// A second job on a folder in use is refused on every rank, naming the holder's host and pid,
// and leaves the first job's unfinished step alone; once the first job ends the folder is free.
TEST(Checkpoint, ASecondJobOnTheFolderIsRefused) {
  const std::string dir = shared_folder("lock");
  Field f = even_field();
  {
    Checkpointer first(rt(), ex(), options(dir));
    f.protect_in(first);
    if (rt().rank() == 0) fs::create_directory(dir + "/step-00000007.tmp");  // first's, unfinished
    rt().mpi().barrier();
    bool refused = false;
    try {
      Checkpointer second(rt(), ex(), options(dir));
    } catch (const strata::Error& e) {
      const std::string what = e.what();
      refused = what.find("in use by another job") != std::string::npos &&
                what.find("pid " + std::to_string(getpid())) != std::string::npos;
      if (rt().rank() != 0) refused = what.find("in use by another job") != std::string::npos;
    }
    EXPECT_TRUE(all_ranks(refused));
    if (rt().rank() == 0) {
      EXPECT_TRUE(fs::exists(dir + "/step-00000007.tmp"));
    }
    save_version(first, f, 1, 1);
  }
  EXPECT_NO_THROW(Checkpointer(rt(), ex(), options(dir)));
  remove_shared(dir);
}

// A checkpoint written by one run (run_id "job-a") is refused by a run with another identity,
// whatever the shapes, on every rank and naming both; the same identity restores it.
TEST(Checkpoint, ARestartOfAnotherRunIsRefused) {
  const std::string dir = shared_folder("run-id");
  Field f = even_field();
  CheckpointOptions o = options(dir);
  o.run_id = "job-a";
  {
    Checkpointer ck(rt(), ex(), o);
    f.protect_in(ck);
    save_version(ck, f, 1, 3);
  }
  f.fill(2);
  {
    CheckpointOptions other = o;
    other.run_id = "job-b";
    Checkpointer ck(rt(), ex(), other);
    f.protect_in(ck);
    bool refused = false;
    try {
      ck.restore_latest();
    } catch (const strata::Error& e) {
      const std::string what = e.what();
      refused = e.category() == strata::ErrorCategory::invalid_argument &&
                what.find("job-a") != std::string::npos && what.find("job-b") != std::string::npos;
    }
    EXPECT_TRUE(all_ranks(refused));
    EXPECT_TRUE(all_ranks(f.holds(2))) << "nothing written into the regions";
  }
  {
    Checkpointer ck(rt(), ex(), o);
    f.protect_in(ck);
    EXPECT_EQ(ck.restore_latest(), std::optional<long>(3));
    EXPECT_TRUE(all_ranks(f.holds(1)));
  }
  remove_shared(dir);
}

// save() snapshots the state at the call: writes after it returns do not reach the checkpoint,
// and a second save while the first is in flight leaves both committed and intact.
TEST(Checkpoint, SaveIsASnapshotAndBackToBackSavesBothCommit) {
  const std::string dir = shared_folder("snapshot");
  Field f = even_field();
  Checkpointer ck(rt(), ex(), options(dir));
  f.protect_in(ck);
  f.fill(1);
  ck.save(1);
  f.fill(2);  // the background write of step 1 is likely still running
  ck.save(2);
  f.fill(3);
  ck.wait();
  auto steps = strata::io::list_checkpoints(dir);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].step, 1);
  EXPECT_EQ(steps[1].step, 2);
  EXPECT_EQ(ck.restore_latest(), std::optional<long>(2));
  EXPECT_TRUE(all_ranks(f.holds(2)));
  if (rt().rank() == 0) {
    auto raw = strata::io::read_checkpoint_region(dir, 1, "u");
    std::vector<double> global(raw.size() / sizeof(double));
    std::memcpy(global.data(), raw.data(), raw.size());
    bool ok = true;
    for (std::size_t i = 0; i < global.size(); ++i) ok &= global[i] == value(i / kCols, i % kCols, 1);
    EXPECT_TRUE(ok) << "step 1 was changed by the writes that followed save(1)";
  }
  remove_shared(dir);
}

// A restore onto another block layout (rows moved between ranks) assembles each rank's new rows
// from whichever shards hold them — the path a restart on another rank count takes.
TEST(Checkpoint, RestoresIntoADifferentRowSplit) {
  const std::string dir = shared_folder("redistribute");
  const std::size_t total = kRowsPerRank * static_cast<std::size_t>(rt().size());
  {
    Field f = even_field();
    Checkpointer ck(rt(), ex(), options(dir));
    f.protect_in(ck);
    save_version(ck, f, 5, 3);
  }
  // Uneven split in reverse order: rank r gets a slice of another size and place.
  const auto size = static_cast<std::size_t>(rt().size());
  const auto me = static_cast<std::size_t>(rt().rank());
  std::vector<std::size_t> rows(size, total / size);
  if (size > 1) { rows[0] += 5; rows[size - 1] -= 5; }
  std::size_t first = 0;
  for (std::size_t r = size - 1; r > me; --r) first += rows[r];
  Field g(first, rows[me]);
  Checkpointer ck(rt(), ex(), options(dir));
  ck.protect("u", std::span(g.data), GlobalBlock{strata::Shape{total, kCols}, first});
  EXPECT_EQ(ck.restore_latest(), std::optional<long>(3));
  EXPECT_TRUE(all_ranks(g.holds(5)));
  remove_shared(dir);
}

// With the chunk entries in each shard's index, a rank reads only the indexes of the shards whose
// blocks hold its rows: the last rank's index damaged, only that rank finds the step damaged (the
// skip names it alone) and all fall back; and one rank alone, as a restart on one rank would,
// reads the whole global array of the intact step through every rank's index.
TEST(Checkpoint, EachRankReadsOnlyTheIndexesOfItsRows) {
  const std::string dir = shared_folder("index");
  Field f = even_field();
  Checkpointer ck(rt(), ex(), options(dir));
  f.protect_in(ck);
  save_version(ck, f, 1, 1);
  save_version(ck, f, 2, 2);
  const int last = rt().size() - 1;
  if (rt().rank() == 0) {
    const std::vector<std::byte> whole = strata::io::read_checkpoint_region(dir, 1, "u");
    const std::size_t total = kRowsPerRank * static_cast<std::size_t>(rt().size());
    ASSERT_EQ(whole.size(), total * kCols * sizeof(double));
    bool same = true;
    for (std::size_t r = 0; r < total && same; ++r) {
      for (std::size_t c = 0; c < kCols; ++c) {
        double v = 0;
        std::memcpy(&v, whole.data() + (r * kCols + c) * sizeof v, sizeof v);
        same = same && v == value(r, c, 1);
      }
    }
    EXPECT_TRUE(same) << "one rank read another rank count's checkpoint wrongly";
    const std::string shard = dir + "/step-00000002/shard-0000" + std::to_string(last) + ".sck";
    std::fstream io(shard, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(fs::file_size(shard) - 32));  // the index trailer's magic
    io.write("X", 1);
  }
  rt().mpi().barrier();
  f.fill(3);
  EXPECT_EQ(ck.restore_latest(), std::optional<long>(1));
  EXPECT_TRUE(all_ranks(f.holds(1)));
  const auto& report = ck.last_restore();
  ASSERT_EQ(report.skipped.size(), 1u);
  const std::string& reason = report.skipped[0].reason;
  EXPECT_NE(reason.find("rank " + std::to_string(last) + ": "), std::string::npos) << reason;
  EXPECT_NE(reason.find("shard chunk index"), std::string::npos) << reason;
  for (int r = 0; r < last; ++r) {
    EXPECT_EQ(reason.find("rank " + std::to_string(r) + ": "), std::string::npos)
        << "rank " << r << " read a shard index its rows do not need: " << reason;
  }
  remove_shared(dir);
}

// Changing one chunk rewrites one chunk per rank; the rest are references to the older step,
// which retention then keeps although it is past `keep`.
TEST(Checkpoint, IncrementalSaveRewritesOnlyChangedChunksAndRetentionKeepsItsBase) {
  const std::string dir = shared_folder("incremental");
  Field f = even_field();
  CheckpointOptions o = options(dir);
  o.keep = 1;
  std::optional<Checkpointer> writer;  // ends before the restart below: one job per folder
  writer.emplace(rt(), ex(), o);
  Checkpointer& ck = *writer;
  f.protect_in(ck);
  f.fill(1);
  ck.save(1);
  auto first = ck.wait();
  EXPECT_EQ(first.chunks_reused, 0u);
  const std::uint64_t chunks = first.chunks_written;
  ASSERT_GT(chunks, 3u);
  f.data[kCols + 3] = -1.0;  // one value in the first chunk
  ck.save(2);
  auto second = ck.wait();
  EXPECT_EQ(second.chunks_written, 1u);
  EXPECT_EQ(second.chunks_reused, chunks - 1);
  EXPECT_LT(second.written_bytes * 3, first.written_bytes);
  auto listed = strata::io::list_checkpoints(dir);
  ASSERT_EQ(listed.size(), 2u) << "step 1 holds step 2's unchanged chunks and must stay";
  EXPECT_EQ(listed[1].depends_on, std::vector<long>{1});
  Field g = even_field();
  writer.reset();
  Checkpointer again(rt(), ex(), o);
  again.protect("u", std::span(g.data), g.block());
  EXPECT_EQ(again.restore_latest(), std::optional<long>(2));
  EXPECT_TRUE(all_ranks(g.data == f.data));
  if (rt().rank() == 0) {
    EXPECT_TRUE(strata::io::verify_checkpoint(dir, 2).empty());
  }
  remove_shared(dir);
}

// A shard write that fails partway through, after its first 8 MiB direct-I/O buffer went to the
// device (a file-size limit on one rank stands in for a full disk: same path, any file system),
// fails the save on every rank with the write error, leaves no step behind, and the previous
// checkpoint stays the one restored; the checkpointer saves again once the limit is lifted.
TEST(Checkpoint, ShardWriteFailingMidwayFailsTheSaveAndKeepsThePrevious) {
  const std::string dir = shared_folder("midway");
  constexpr std::size_t kDoubles = (24u << 20) / sizeof(double);  // 24 MiB per rank
  std::vector<double> big(kDoubles);
  const GlobalBlock block{strata::Shape{kDoubles * static_cast<std::size_t>(rt().size())},
                          kDoubles * static_cast<std::size_t>(rt().rank())};
  CheckpointOptions o = options(dir);
  o.codec = strata::io::no_compression();
  o.incremental = false;
  Checkpointer ck(rt(), ex(), o);
  ck.protect("big", std::span(big), block);
  std::fill(big.begin(), big.end(), 1.0);
  ck.save(1);
  ck.wait();
  std::fill(big.begin(), big.end(), 2.0);
  const bool limited = rt().rank() == rt().size() - 1;
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  if (limited) {
    rlimit small = old;
    small.rlim_cur = 12u << 20;  // past the first buffer, short of the shard
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  }
  ck.save(2);
  std::string error;
  try {
    ck.wait();
  } catch (const strata::Error& e) {
    error = e.what();
  }
  if (limited) ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  const std::string victim = "rank " + std::to_string(rt().size() - 1);
  EXPECT_TRUE(all_ranks(error.find(victim) != std::string::npos &&
                        error.find("write failed") != std::string::npos))
      << error;
  rt().mpi().barrier();
  EXPECT_FALSE(fs::exists(dir + "/step-00000002"));
  EXPECT_FALSE(fs::exists(dir + "/step-00000002.tmp"));
  std::fill(big.begin(), big.end(), 0.0);
  EXPECT_EQ(ck.restore_latest(), std::optional<long>(1));
  EXPECT_TRUE(all_ranks(std::all_of(big.begin(), big.end(), [](double v) { return v == 1.0; })));
  std::fill(big.begin(), big.end(), 3.0);
  ck.save(3);
  EXPECT_EQ(ck.wait().state, strata::io::SaveState::committed);
  remove_shared(dir);
}

// A chain of incremental saves that each change another chunk, and change it again right after
// save() returns, restores the state as it was at the last save: a changed chunk is copied before
// save() returns, an unchanged one is referenced from the save that wrote it.
TEST(Checkpoint, IncrementalChainKeepsEachSavesSnapshot) {
  const std::string dir = shared_folder("chain");
  Field f = even_field();
  CheckpointOptions o = options(dir);
  o.keep = 4;
  std::optional<Checkpointer> writer;  // ends before the restart below: one job per folder
  writer.emplace(rt(), ex(), o);
  Checkpointer& ck = *writer;
  f.protect_in(ck);
  save_version(ck, f, 1, 1);
  const std::size_t per_chunk = kChunkBytes / sizeof(double);
  std::vector<double> expected;
  for (long step = 2; step <= 4; ++step) {
    const std::size_t at = static_cast<std::size_t>(step - 2) * per_chunk + 5;  // chunks 0, 1, 2
    f.data[at] = -static_cast<double>(step);
    expected = f.data;
    ck.save(step);
    f.data[at] = 1e300;  // after save() returned: not part of this step
    auto st = ck.wait();
    EXPECT_EQ(st.chunks_written, 1u) << "step " << step;
    f.data[at] = -static_cast<double>(step);
  }
  Field g = even_field();
  writer.reset();
  Checkpointer again(rt(), ex(), o);
  again.protect("u", std::span(g.data), g.block());
  EXPECT_EQ(again.restore_latest(), std::optional<long>(4));
  EXPECT_TRUE(all_ranks(g.data == expected));
  if (rt().rank() == 0) {
    EXPECT_EQ(strata::io::list_checkpoints(dir).back().depends_on, (std::vector<long>{1, 2, 3}));
  }
  remove_shared(dir);
}

// A shard that cannot be written on the last rank fails the checkpoint on every rank, leaves
// no trace of it, and the previous checkpoint stays the one restored.
TEST(Checkpoint, FailureOnOneRankAbortsTheCheckpointEverywhere) {
  const std::string dir = shared_folder("failure");
  Field f = even_field();
  Checkpointer ck(rt(), ex(), options(dir));
  f.protect_in(ck);
  save_version(ck, f, 1, 1);
  const int victim = rt().size() - 1;
  if (rt().rank() == 0) {
    fs::create_directories(dir + "/step-00000002.tmp/shard-" +
                           std::string(5 - std::to_string(victim).size(), '0') +
                           std::to_string(victim) + ".sck");  // a folder where the shard goes
  }
  rt().mpi().barrier();
  f.fill(2);
  ck.save(2);
  bool threw = false;
  try {
    ck.wait();
  } catch (const strata::Error& e) {
    threw = std::string(e.what()).find("rank " + std::to_string(victim)) != std::string::npos;
  }
  EXPECT_TRUE(all_ranks(threw)) << "every rank must learn that rank " << victim << " failed";
  EXPECT_EQ(ck.status().state, strata::io::SaveState::failed);
  rt().mpi().barrier();
  EXPECT_FALSE(fs::exists(dir + "/step-00000002"));
  EXPECT_FALSE(fs::exists(dir + "/step-00000002.tmp"));
  EXPECT_EQ(ck.restore_latest(), std::optional<long>(1));
  EXPECT_TRUE(all_ranks(f.holds(1)));
  remove_shared(dir);
}

enum class Damage {
  flip_shard_byte,
  delete_shard,
  truncate_manifest,
  truncate_shard,
  nested_manifest,
  fifo_manifest,
  endless_manifest,
  unreadable_manifest,
  stray_step_names,
};

// Each kind of damage to the newest checkpoint makes restore fall back to the previous one,
// with a reason naming the step and what is wrong.
void expect_fallback(Damage damage, const std::string& expected_reason) {
  const std::string dir = shared_folder("damage");
  Field f = even_field();
  Checkpointer ck(rt(), ex(), options(dir));
  f.protect_in(ck);
  save_version(ck, f, 1, 1);
  save_version(ck, f, 2, 2);
  if (rt().rank() == 0) {
    const std::string shard = dir + "/step-00000002/shard-00000.sck";
    const std::string manifest = dir + "/step-00000002/manifest.json";
    switch (damage) {
      case Damage::flip_shard_byte: {
        std::fstream io(shard, std::ios::in | std::ios::out | std::ios::binary);
        io.seekg(100);
        char c = 0;
        io.read(&c, 1);
        c = static_cast<char>(c ^ 0x5a);
        io.seekp(100);
        io.write(&c, 1);
        break;
      }
      case Damage::delete_shard: fs::remove(shard); break;
      case Damage::truncate_manifest: fs::resize_file(manifest, fs::file_size(manifest) / 2); break;
      case Damage::truncate_shard: fs::resize_file(shard, fs::file_size(shard) - 10); break;
      case Damage::nested_manifest:
        std::ofstream(manifest, std::ios::trunc)
            << std::string(100000, '[') << std::string(100000, ']');
        break;
      case Damage::fifo_manifest:
        fs::remove(manifest);
        ASSERT_EQ(mkfifo(manifest.c_str(), 0600), 0);
        break;
      case Damage::endless_manifest:
        fs::remove(manifest);
        fs::create_symlink("/dev/zero", manifest);
        break;
      case Damage::unreadable_manifest:  // status() fails on it, as on a folder without permission
        fs::remove(manifest);
        fs::create_symlink("manifest.json", manifest);
        break;
      case Damage::stray_step_names:  // not steps: step 2 is tried (and skipped) once, not thrice
        fs::resize_file(manifest, fs::file_size(manifest) / 2);
        fs::create_directory(dir + "/step-2");
        fs::create_directory(dir + "/step-0000000002");
        break;
    }
  }
  rt().mpi().barrier();
  f.fill(3);
  EXPECT_EQ(ck.restore_latest(), std::optional<long>(1));
  EXPECT_TRUE(all_ranks(f.holds(1)));
  const auto& report = ck.last_restore();
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].step, 2);
  EXPECT_NE(report.skipped[0].reason.find(expected_reason), std::string::npos)
      << report.skipped[0].reason;
  remove_shared(dir);
}

// A flipped byte in a frame fails that chunk's XXH3 (or its zstd frame check).
TEST(Checkpoint, FlippedShardByteFallsBack) { expect_fallback(Damage::flip_shard_byte, "shard-00000"); }
// A deleted shard is named as missing.
TEST(Checkpoint, DeletedShardFallsBack) { expect_fallback(Damage::delete_shard, "shard missing"); }
// A truncated manifest no longer parses (or fails its SHA-256).
TEST(Checkpoint, TruncatedManifestFallsBack) { expect_fallback(Damage::truncate_manifest, "manifest"); }
// A truncated shard is caught by its size before any frame is read.
TEST(Checkpoint, TruncatedShardFallsBack) { expect_fallback(Damage::truncate_shard, "truncated"); }

// A manifest nested 100,000 deep is refused before anything recurses over it (no stack overflow).
TEST(Checkpoint, DeeplyNestedManifestFallsBack) {
  expect_fallback(Damage::nested_manifest, "nested");
}
// A FIFO as manifest is refused by its file type instead of blocking every rank in open().
TEST(Checkpoint, FifoManifestFallsBack) {
  expect_fallback(Damage::fifo_manifest, "not a regular file");
}
// A manifest linked to /dev/zero is refused instead of being read until memory runs out.
TEST(Checkpoint, EndlessManifestFallsBack) {
  expect_fallback(Damage::endless_manifest, "not a regular file");
}
// A step whose manifest cannot even be looked at is skipped, not the end of restore.
TEST(Checkpoint, UnreadableManifestFallsBack) {
  expect_fallback(Damage::unreadable_manifest, "manifest");
}
// Folders named like a step but not canonically (step-2, step-0000000002) are never steps.
TEST(Checkpoint, StrayStepNamesAreNotSteps) {
  expect_fallback(Damage::stray_step_names, "manifest");
}

// verify_checkpoint (strata ckpt verify) checks every shard's SHA-256 and names the bad one.
TEST(Checkpoint, VerifyNamesTheDamagedShard) {
  const std::string dir = shared_folder("verify");
  Field f = even_field();
  {
    Checkpointer ck(rt(), ex(), options(dir));
    f.protect_in(ck);
    save_version(ck, f, 1, 4);
  }
  if (rt().rank() == 0) {
    EXPECT_TRUE(strata::io::verify_checkpoint(dir, 4).empty());
    const std::string shard = dir + "/step-00000004/shard-00000.sck";
    std::fstream io(shard, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(70);
    io.put('\x7f');
    io.close();
    auto problems = strata::io::verify_checkpoint(dir, 4);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems[0].find("SHA-256"), std::string::npos) << problems[0];
  }
  remove_shared(dir);
}

// Whole arrays stack by rank; a rank-local mapped file comes back byte for byte; region names
// never become paths (a name full of ../ writes nothing outside the folder).
TEST(Checkpoint, StackedArraysMappedFilesAndHostileNames) {
  const std::string dir = shared_folder("kinds");
  auto a = rt().memory().array<std::int32_t>("a", {static_cast<std::size_t>(3 + rt().rank()), 5});
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<std::int32_t>(i * 31 + rt().rank());
  const std::string file = dir + "/mapped-" + std::to_string(rt().rank()) + ".bin";
  rt().mpi().barrier();
  auto mapped = strata::MappedFile::open(file, strata::MappedFileOptions().read_write().create(4096 + 17));
  auto bytes = mapped.writable_bytes(0, mapped.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 13 + 1);
  std::vector<double> odd(kCols, 1.5);
  // Nested four deep so that any path built from "../../../escape" lands inside `dir`, where
  // this test can look for it without walking folders that other tests change concurrently.
  const std::string ckdir = dir + "/x/y/z/ck";
  {
    Checkpointer ck(rt(), ex(), options(ckdir));
    ck.protect(a);
    ck.protect("state.bin", mapped);
    ck.protect("../../../escape", std::span(odd), GlobalBlock{strata::Shape{static_cast<std::size_t>(rt().size()), kCols},
                                                              static_cast<std::size_t>(rt().rank())});
    ck.save(7);
    ck.wait();
  }
  std::vector<std::int32_t> saved(a.data(), a.data() + a.size());
  std::fill(a.data(), a.data() + a.size(), 0);
  std::fill(bytes.begin(), bytes.end(), std::byte{0});
  std::fill(odd.begin(), odd.end(), 0.0);
  {
    Checkpointer ck(rt(), ex(), options(ckdir));
    ck.protect(a);
    ck.protect("state.bin", mapped);
    ck.protect("../../../escape", std::span(odd), GlobalBlock{strata::Shape{static_cast<std::size_t>(rt().size()), kCols},
                                                              static_cast<std::size_t>(rt().rank())});
    EXPECT_EQ(ck.restore_latest(), std::optional<long>(7));
  }
  bool ok = std::equal(saved.begin(), saved.end(), a.data());
  for (std::size_t i = 0; i < bytes.size(); ++i) ok &= bytes[i] == static_cast<std::byte>(i * 13 + 1);
  ok &= std::all_of(odd.begin(), odd.end(), [](double v) { return v == 1.5; });
  EXPECT_TRUE(all_ranks(ok));
  if (rt().rank() == 0) {
    auto info = strata::io::list_checkpoints(ckdir);
    ASSERT_EQ(info.size(), 1u);
    ASSERT_EQ(info[0].regions.size(), 3u);
    EXPECT_EQ(info[0].regions[0].global_shape[0], static_cast<std::size_t>(3 * rt().size() + rt().size() * (rt().size() - 1) / 2));
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      EXPECT_EQ(entry.path().filename().string().find("escape"), std::string::npos) << entry.path();
    }
  }
  remove_shared(dir);
}

// A rank-local mapped file is followed across grow(): grown alike on every rank the next save
// holds the grown bytes; grown on rank 0 only, save() refuses on every rank with invalid_argument
// naming the sizes, and nothing is committed.
TEST(Checkpoint, GrownRankLocalMappedFilesAreSavedOrRefusedOnEveryRank) {
  const std::string dir = shared_folder("grown");
  const std::string file = dir + "/grown-" + std::to_string(rt().rank()) + ".bin";
  auto mapped = strata::MappedFile::open(file, strata::MappedFileOptions().read_write().create(5000));
  Checkpointer ck(rt(), ex(), options(dir + "/ck"));
  ck.protect("state.bin", mapped);
  mapped.grow(70000);
  auto bytes = mapped.writable_bytes(0, mapped.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7 + 3);
  ck.save(1);
  EXPECT_EQ(ck.wait().raw_bytes, 70000u);
  if (rt().rank() == 0) mapped.grow(80000);
  if (rt().size() > 1) {
    std::string what;
    try {
      ck.save(2);
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
      what = e.what();
    }
    EXPECT_TRUE(all_ranks(what.find("80000") != std::string::npos &&
                          what.find("70000") != std::string::npos))
        << what;
  }
  if (rt().rank() == 0) {
    const auto steps = strata::io::list_checkpoints(dir + "/ck");
    ASSERT_EQ(steps.size(), 1u);
    EXPECT_EQ(steps[0].step, 1);
    EXPECT_EQ(steps[0].raw_bytes, 70000u * static_cast<std::uint64_t>(rt().size()));
  }
  remove_shared(dir);
}

// A restore that finds the protected region with another shape refuses with invalid_argument
// instead of writing a wrong answer.
TEST(Checkpoint, MismatchedShapeIsAClearError) {
  const std::string dir = shared_folder("mismatch");
  Field f = even_field();
  {
    Checkpointer ck(rt(), ex(), options(dir));
    f.protect_in(ck);
    ck.save(1);
    ck.wait();
  }
  std::vector<double> other(kCols / 2 * kRowsPerRank * 2);
  Checkpointer ck(rt(), ex(), options(dir));
  ck.protect("u", std::span(other),
             GlobalBlock{strata::Shape{2 * kRowsPerRank * static_cast<std::size_t>(rt().size()), kCols / 2},
                         2 * kRowsPerRank * static_cast<std::size_t>(rt().rank())});
  bool threw = false;
  try {
    ck.restore_latest();
  } catch (const strata::Error& e) {
    threw = e.category() == strata::ErrorCategory::invalid_argument &&
            std::string(e.what()).find("global shape") != std::string::npos;
  }
  EXPECT_TRUE(all_ranks(threw));
  remove_shared(dir);
}

// Byte-shuffled zstd frames (the default codec) come back exactly for 8- and 2-byte elements,
// also with chunks that end mid-element, and the manifest records the shuffle; an unshuffled
// zstd checkpoint of the same state restores the same bytes.
TEST(Checkpoint, ShuffledFramesOfOddSizesRoundTrip) {
  for (bool shuffle : {true, false}) {
    const std::string dir = shared_folder(shuffle ? "shuffle" : "noshuffle");
    Field f = even_field();
    f.fill(9);
    std::vector<std::int16_t> small(3 * 1001);
    for (std::size_t i = 0; i < small.size(); ++i) small[i] = static_cast<std::int16_t>(i * 37 - 20000);
    const std::vector<std::int16_t> saved_small = small;
    CheckpointOptions o = options(dir);
    o.chunk_bytes = 10007;  // prime: most chunks end inside an element
    o.codec = strata::io::zstd(3, shuffle);
    {
      Checkpointer ck(rt(), ex(), o);
      f.protect_in(ck);
      ck.protect("small", std::span(small),
                 GlobalBlock{strata::Shape{3 * static_cast<std::size_t>(rt().size()), 1001},
                             3 * static_cast<std::size_t>(rt().rank())});
      ck.save(1);
      ck.wait();
    }
    f.fill(0);
    std::fill(small.begin(), small.end(), std::int16_t{0});
    {
      Checkpointer ck(rt(), ex(), o);
      f.protect_in(ck);
      ck.protect("small", std::span(small),
                 GlobalBlock{strata::Shape{3 * static_cast<std::size_t>(rt().size()), 1001},
                             3 * static_cast<std::size_t>(rt().rank())});
      EXPECT_EQ(ck.restore_latest(), std::optional<long>(1));
    }
    EXPECT_TRUE(all_ranks(f.holds(9) && small == saved_small)) << "shuffle " << shuffle;
    if (rt().rank() == 0) {
      std::ifstream in(dir + "/step-00000001/manifest.json");
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_EQ(text.find("zstd+shuffle") != std::string::npos, shuffle);
      EXPECT_TRUE(strata::io::verify_checkpoint(dir, 1).empty());
    }
    remove_shared(dir);
  }
}

// Saving a step that an earlier run committed (a restart repeating it) replaces it completely:
// the restore gives the new contents and no `.replaced` or `.tmp` folder is left behind.
TEST(Checkpoint, SavingACommittedStepAgainReplacesIt) {
  const std::string dir = shared_folder("replace");
  Field f = even_field();
  {
    Checkpointer first(rt(), ex(), options(dir));
    f.protect_in(first);
    save_version(first, f, 1, 5);
  }
  Checkpointer ck(rt(), ex(), options(dir));  // the restart, repeating step 5 without restoring it
  f.protect_in(ck);
  save_version(ck, f, 2, 5);
  f.fill(0);
  EXPECT_EQ(ck.restore_latest(), std::optional<long>(5));
  EXPECT_TRUE(all_ranks(f.holds(2)));
  rt().mpi().barrier();
  if (rt().rank() == 0) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{".strata-lock", "step-00000005"}));
  }
  remove_shared(dir);
}

// The message of the Error that `call` throws, or "" when it throws none.
template <class F>
std::string error_of(F call) {
  try {
    call();
  } catch (const strata::Error& e) {
    return e.category() == strata::ErrorCategory::invalid_argument ? e.what() : "";
  }
  return "";
}

// Misuse of one Checkpointer is a clear invalid_argument on every rank, before anything is
// written: save() with nothing protected (before: an empty checkpoint), save(5) twice (before:
// corrupt_data naming depends_on), save(3) after step 5 (before: accepted, and restore_latest()
// still returned 5), and saving the step just restored. Newer steps still save.
TEST(Checkpoint, MisuseIsAClearError) {
  const std::string dir = shared_folder("misuse");
  Field f = even_field();
  {
    Checkpointer ck(rt(), ex(), options(dir));
    const std::string empty = error_of([&] { ck.save(1); });
    EXPECT_NE(empty.find("nothing to checkpoint"), std::string::npos) << empty;
    f.protect_in(ck);
    save_version(ck, f, 1, 5);
    const std::string twice = error_of([&] { ck.save(5); });
    EXPECT_NE(twice.find("step 5 exists"), std::string::npos) << twice;
    const std::string older = error_of([&] { ck.save(3); });
    EXPECT_NE(older.find("steps must increase: step 3 is older than step 5"), std::string::npos)
        << older;
    EXPECT_EQ(ck.wait().step, 5) << "a refused save changes nothing";
    save_version(ck, f, 2, 6);
  }
  if (rt().rank() == 0) {
    EXPECT_FALSE(fs::exists(dir + "/step-00000001"));
  }
  {
    Checkpointer restarted(rt(), ex(), options(dir));
    f.protect_in(restarted);
    EXPECT_EQ(restarted.restore_latest(), std::optional<long>(6));
    EXPECT_TRUE(all_ranks(f.holds(2)));
    const std::string restored = error_of([&] { restarted.save(6); });
    EXPECT_NE(restored.find("step 6 exists"), std::string::npos) << restored;
    EXPECT_NO_THROW(save_version(restarted, f, 3, 7));
  }  // gone, with the pruning after its last commit, before the folder goes
  remove_shared(dir);
}

// A folder that cannot be created, and options that can never work, are clear errors on every
// rank at construction, before anything is written.
TEST(Checkpoint, BadFolderAndOptionsAreRefused) {
  const std::string dir = shared_folder("bad");
  if (rt().rank() == 0) std::ofstream(dir + "/a-file") << "x";
  rt().mpi().barrier();
  auto category_of = [](const CheckpointOptions& o) {
    try {
      Checkpointer ck(rt(), ex(), o);
    } catch (const strata::Error& e) {
      return static_cast<int>(e.category());
    }
    return -1;
  };
  CheckpointOptions under_file = options(dir + "/a-file/ckpt");
  EXPECT_TRUE(all_ranks(category_of(under_file) == static_cast<int>(strata::ErrorCategory::io)));
  CheckpointOptions keep0 = options(dir + "/x");
  keep0.keep = 0;
  CheckpointOptions level99 = options(dir + "/x");
  level99.codec = strata::io::zstd(99);
  CheckpointOptions chunk0 = options(dir + "/x");
  chunk0.chunk_bytes = 0;
  const int invalid = static_cast<int>(strata::ErrorCategory::invalid_argument);
  EXPECT_TRUE(all_ranks(category_of(keep0) == invalid && category_of(level99) == invalid &&
                        category_of(chunk0) == invalid));
  Field f = even_field();
  Checkpointer ck(rt(), ex(), options(dir + "/ok/nested"));  // missing parents are created
  EXPECT_THROW(ck.save(-1), strata::Error);
  EXPECT_THROW(ck.protect("u", std::span(f.data).first(kCols - 1), f.block()), strata::Error)
      << "a span that is not whole rows";
  f.protect_in(ck);
  EXPECT_THROW(f.protect_in(ck), strata::Error) << "a duplicate name";
  remove_shared(dir);
}

// every_steps makes due() true on multiples only; keep = 2 leaves the two newest complete steps
// once the Checkpointer is done (the last save's pruning runs after wait() returns).
TEST(Checkpoint, DueAndRetention) {
  const std::string dir = shared_folder("due");
  Field f = even_field();
  CheckpointOptions o = options(dir);
  o.every_steps = 5;
  o.incremental = false;
  int saves = 0;
  {
    Checkpointer ck(rt(), ex(), o);
    f.protect_in(ck);
    for (long step = 1; step <= 20; ++step) {
      f.fill(static_cast<int>(step));
      if (ck.due(step)) {
        ck.save(step);
        ++saves;
      }
    }
    EXPECT_EQ(ck.wait().step, 20);
  }
  rt().mpi().barrier();  // rank 0 pruned
  EXPECT_EQ(saves, 4);
  auto listed = strata::io::list_checkpoints(dir);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].step, 15);
  EXPECT_EQ(listed[1].step, 20);
  remove_shared(dir);
}

}  // namespace

namespace {

// Names this rank's node for the local level: the first half of the ranks on "a", the rest on
// "b" (one machine simulating two nodes), or all on "a".
void simulate_nodes(bool two) {
  const bool second = two && rt().rank() >= rt().size() / 2;
  ::setenv("STRATA_NODE_NAME", second ? "b" : "a", 1);
}

}  // namespace

// Levels: a save commits in the node-local folders with partner copies (every node folder holds
// the step), drains to the shared folder, and with node b's folder gone a restore rebuilds b's
// shards from the copies on a and gives back exactly what was saved; one node with partner
// copies is refused. Would fail if a level lost a shard, a drain left nothing in shared, or the
// restore used another level.
TEST(Checkpoint, LevelsCommitLocallyDrainAndRebuildALostNodeFromPartnerCopies) {
  if (rt().size() < 2) GTEST_SKIP() << "partner copies need two (simulated) nodes";
  const std::string shared = shared_folder("levels");
  const std::string local = shared + "/local";
  CheckpointOptions o = options(shared + "/shared");
  o.local_dir = local;
  o.partner = true;

  simulate_nodes(false);
  try {
    Checkpointer refused(rt(), ex(), o);
    ADD_FAILURE() << "partner copies on one node were accepted";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("at least two nodes"), std::string::npos) << e.what();
  }

  simulate_nodes(true);
  Field f = even_field();
  {
    Checkpointer ck(rt(), ex(), o);
    f.protect_in(ck);
    f.fill(7);
    ck.save(10);
    EXPECT_EQ(ck.wait().level, strata::io::CheckpointLevel::partner);
    const strata::io::DrainStatus d = ck.finish_drain();
    EXPECT_EQ(d.state, strata::io::SaveState::committed);
    EXPECT_EQ(d.step, 10);
  }
  rt().mpi().barrier();
  const std::string step = "step-00000010";
  EXPECT_TRUE(fs::exists(fs::path(shared) / "shared" / step / "manifest.json"));
  for (const char* node : {"node-a", "node-b"}) {
    for (int r = 0; r < rt().size(); ++r) {  // own shards and the partner copies
      char shard[32];
      std::snprintf(shard, sizeof shard, "shard-%05d.sck", r);
      EXPECT_TRUE(fs::exists(fs::path(local) / node / step / shard)) << node << " " << shard;
    }
  }
  rt().mpi().barrier();
  if (rt().rank() == 0) fs::remove_all(fs::path(local) / "node-b");
  rt().mpi().barrier();

  f.fill(0);
  {
    Checkpointer ck(rt(), ex(), o);
    f.protect_in(ck);
    EXPECT_EQ(ck.restore_latest(), 10);
    EXPECT_EQ(ck.last_restore().level, strata::io::CheckpointLevel::partner);
    std::vector<int> node_b;
    for (int r = rt().size() / 2; r < rt().size(); ++r) node_b.push_back(r);
    EXPECT_EQ(ck.last_restore().rebuilt_ranks, node_b);
  }
  EXPECT_TRUE(all_ranks(f.holds(7)));
  ::unsetenv("STRATA_NODE_NAME");
  remove_shared(shared);
}

int main(int argc, char** argv) {
  strata::Runtime runtime(argc, argv, {.install_stop_signals = false});
  strata::Executor executor(runtime, {.threads = 2});
  the_runtime = &runtime;
  the_executor = &executor;
  ::testing::InitGoogleTest(&argc, argv);
  if (runtime.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  return runtime.mpi().allreduce_or(failed != 0) ? 1 : 0;
}
