// SPDX-License-Identifier: Apache-2.0
// The shard chunk index (checkpoint format 3) on one rank: it round-trips at its documented
// layout, reused chunks point into the older step's shard, a hostile or truncated index is a clean
// corrupt_data error naming the shard (and restore falls back to the older step), and a format 2
// checkpoint written before the index (tests/data/checkpoint-v2) still restores, verifies and is
// the base of an incremental save, as a format 3 one (tests/data/checkpoint-v3) restores.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "checkpoint/checkpoint_manifest.hpp"
#include "checkpoint/shard_index.hpp"
#include "checksum/xxh3.hpp"
#include "common/scratch_folder.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

namespace fs = std::filesystem;
using strata::io::Checkpointer;
using strata::io::CheckpointOptions;
using strata::io::Codec;
using strata::io::detail::ChunkRef;
using strata::io::detail::IndexBlock;
using strata::io::detail::ShardIndex;

constexpr std::size_t kRows = 8;
constexpr std::size_t kCols = 6;
constexpr std::size_t kChunkBytes = 96;  // two rows

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> c{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::byte> out(c.size());
  std::memcpy(out.data(), c.data(), c.size());
  return out;
}

void write_bytes(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// The field documented for tests/data/checkpoint-v2: 1000 + i, rows [changed_from, changed_to)
// 2000 + i.
std::vector<double> expected_field(std::size_t changed_from, std::size_t changed_to) {
  std::vector<double> f(kRows * kCols);
  for (std::size_t i = 0; i < f.size(); ++i) {
    const bool changed = i >= changed_from * kCols && i < changed_to * kCols;
    f[i] = (changed ? 2000.0 : 1000.0) + static_cast<double>(i);
  }
  return f;
}

// The corrupt_data error `body` throws, or a failure.
template <class Body>
strata::Error corrupt_error(Body body) {
  try {
    body();
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data) << e.what();
    return e;
  }
  ADD_FAILURE() << "accepted";
  return strata::Error(strata::ErrorCategory::io, "accepted");
}

class CheckpointIndexTest : public strata::test::ScratchFolderTest {
 protected:
  CheckpointIndexTest() : ScratchFolderTest("strata-ckpt-index") {}
  strata::Runtime rt_{strata::RuntimeOptions{.install_stop_signals = false}};
  strata::Executor ex_{rt_, {.threads = 2}};

  CheckpointOptions options() const {
    return {.dir = dir_.string(), .keep = 5, .chunk_bytes = kChunkBytes, .run_id = "v2-fixture"};
  }
  // Saves the expected_field(...) states as steps 1 (nothing changed) and 2 (rows 2-3 changed).
  void save_two_steps(Codec codec) {
    std::vector<double> field = expected_field(0, 0);
    CheckpointOptions o = options();
    o.codec = codec;
    Checkpointer ck(rt_, ex_, o);
    ck.protect("field", std::span(field), {strata::Shape{kRows, kCols}, 0});
    ck.save(1);
    ck.wait();
    const std::vector<double> changed = expected_field(2, 4);
    std::copy(changed.begin(), changed.end(), field.begin());  // in place: the span is protected
    ck.save(2);
    ck.wait();
  }
  std::string shard(long step) const { return strata::io::detail::shard_path(dir_, step, 0); }
  // The decoded index of step's shard, read as restore reads it.
  ShardIndex index_of(long step) const {
    const std::string path = shard(step);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    const auto size = static_cast<std::uint64_t>(fs::file_size(path));
    ShardIndex index = strata::io::detail::read_shard_index(fd, size, step, 0, path);
    ::close(fd);
    return index;
  }
  // Restores into a fresh field; returns the step restored and the field.
  std::pair<std::optional<long>, std::vector<double>> restore(const std::string& run = "v2-fixture",
                                                              std::string* skipped = nullptr) {
    std::vector<double> field(kRows * kCols, -1.0);
    CheckpointOptions o = options();
    o.run_id = run;
    Checkpointer ck(rt_, ex_, o);
    ck.protect("field", std::span(field), {strata::Shape{kRows, kCols}, 0});
    std::optional<long> step = ck.restore_latest();
    if (skipped != nullptr) {
      for (const auto& s : ck.last_restore().skipped) *skipped += s.reason + "\n";
    }
    return {step, field};
  }
};

// Proves encode writes the documented fixed-width layout (32-byte blocks, 48-byte entries, a
// 32-byte trailer with magic, counts and offset) and decode reads every field back, a reused
// chunk's older step and rank included.
TEST(ShardIndexCodec, RoundTripsAtTheDocumentedLayout) {
  ShardIndex index;
  index.offset = 164;
  index.blocks.push_back({0xabcdefULL, 10, 2, 2});
  index.entries.push_back({48, 0x1111, 7, 3, Codec::Kind::zstd, true, 64, 100});
  index.entries.push_back({24, 0x2222, 5, 1, Codec::Kind::none, false, 4096, 24});  // reused
  const std::vector<std::byte> bytes = strata::io::detail::encode_shard_index(index);
  ASSERT_EQ(bytes.size(), 32u + 2 * 48u + 32u);
  auto u64_at = [&](std::size_t at) {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes.data() + at, 8);
    return v;
  };
  EXPECT_EQ(u64_at(0), 0xabcdefULL);
  EXPECT_EQ(u64_at(8), 10u);
  EXPECT_EQ(u64_at(24), 2u);
  EXPECT_EQ(u64_at(32 + 48 + 16), 5u);             // second entry's step
  EXPECT_EQ(static_cast<int>(bytes[32 + 28]), 1);  // zstd
  EXPECT_EQ(static_cast<int>(bytes[32 + 29]), 1);  // shuffled
  EXPECT_EQ(std::memcmp(bytes.data() + 128, "STRATIX1", 8), 0);
  EXPECT_EQ(u64_at(128 + 16), 2u);    // entries
  EXPECT_EQ(u64_at(128 + 24), 164u);  // offset
  const ShardIndex back =
      strata::io::detail::decode_shard_index(bytes, 164 + bytes.size(), 7, 3, "s");
  ASSERT_EQ(back.blocks.size(), 1u);
  EXPECT_EQ(back.blocks[0].rows, 2u);
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries[0].stored_bytes, 100u);
  EXPECT_TRUE(back.entries[0].shuffled);
  EXPECT_EQ(back.entries[1].step, 5);
  EXPECT_EQ(back.entries[1].rank, 1);
  EXPECT_EQ(back.entries[1].offset, 4096u);
  EXPECT_EQ(back.entries[1].codec, Codec::Kind::none);
}

// Proves a hostile or truncated index is Error(corrupt_data) naming the shard and the field,
// never a crash or a read past the bytes given: bad magic, counts that overflow or do not fill
// the file, an offset outside it, blocks claiming more entries, a frame of this step outside the
// frames or in another rank's shard, a newer step, an unknown codec, a truncated tail.
TEST(ShardIndexCodec, HostileIndexesAreRefusedNamingTheShard) {
  ShardIndex index;
  index.offset = 164;
  index.blocks.push_back({1, 0, 2, 1});
  index.entries.push_back({48, 0x1111, 7, 3, Codec::Kind::zstd, false, 64, 100});
  const std::vector<std::byte> good = strata::io::detail::encode_shard_index(index);
  const std::uint64_t file = 164 + good.size();
  auto refused = [&](std::vector<std::byte> bytes, std::uint64_t file_bytes = 0) {
    const strata::Error e = corrupt_error([&] {
      (void)strata::io::detail::decode_shard_index(bytes, file_bytes ? file_bytes : file, 7, 3,
                                                   "shard-00003.sck");
    });
    EXPECT_EQ(e.context_value("shard"), "shard-00003.sck");
    return std::string(e.context_value("field"));
  };
  auto patched = [&](std::size_t at, std::uint64_t value, std::size_t width = 8) {
    std::vector<std::byte> b = good;
    std::memcpy(b.data() + at, &value, width);
    return b;
  };
  const std::size_t trailer = good.size() - 32;
  EXPECT_EQ(refused(patched(trailer, 0x58)), "magic");
  EXPECT_EQ(refused(patched(trailer + 16, ~0ULL)), "entries");  // count overflows
  EXPECT_EQ(refused(patched(trailer + 16, 0x0400000000000000ULL)), "entries");
  EXPECT_EQ(refused(patched(trailer + 8, 0xffffffffULL, 4)), "entries");
  EXPECT_EQ(refused(patched(trailer + 24, 1ULL << 62)), "offset");
  EXPECT_EQ(refused(patched(trailer + 24, 10)), "offset");   // inside the header
  EXPECT_EQ(refused(patched(24, 2)), "blocks[0]");           // more than listed
  EXPECT_EQ(refused(patched(32 + 40, 101)), "entries[0]");   // past the frames
  EXPECT_EQ(refused(patched(32 + 24, 2, 4)), "entries[0]");  // another rank's
  EXPECT_EQ(refused(patched(32 + 16, 8)), "entries[0]");     // a newer step
  EXPECT_EQ(refused(patched(32 + 28, 7, 1)), "entries[0]");  // unknown codec
  EXPECT_EQ(refused(patched(32, 0)), "entries[0]");          // empty chunk
  EXPECT_EQ(refused(patched(32 + 32, 8)), "entries[0]");     // inside the header
  EXPECT_EQ(refused(good, file + 1), "entries");  // the file is longer than the index says
  EXPECT_EQ(refused(std::vector<std::byte>(good.begin() + 8, good.end()), file - 8), "entries");
  EXPECT_EQ(refused(std::vector<std::byte>(good.end() - 20, good.end()), 100), "trailer");
  EXPECT_EQ(refused(good, 40), "trailer");  // shorter than a header and a trailer
}

// Proves a save writes its chunk entries into its shard's index: step 2's index lists the
// changed chunk in step 2's own shard and the three unchanged ones in step 1's (reused), each
// with the XXH3 of the field's chunk, and the frames of each shard end where its index begins.
TEST_F(CheckpointIndexTest, IndexRoundTripsWithReusedChunks) {
  save_two_steps(strata::io::zstd(1));
  const std::vector<double> v2 = expected_field(2, 4);
  const ShardIndex second = index_of(2);
  const ShardIndex first = index_of(1);
  ASSERT_EQ(second.blocks.size(), 1u);
  EXPECT_EQ(second.blocks[0].region_hash, XXH3_64bits("field", 5));
  EXPECT_EQ(second.blocks[0].first_row, 0u);
  EXPECT_EQ(second.blocks[0].rows, kRows);
  ASSERT_EQ(second.entries.size(), 4u);
  for (std::size_t c = 0; c < 4; ++c) {
    const ChunkRef& e = second.entries[c];
    EXPECT_EQ(e.raw_bytes, kChunkBytes);
    EXPECT_EQ(e.raw_hash, XXH3_64bits(v2.data() + c * 12, kChunkBytes)) << "chunk " << c;
    EXPECT_EQ(e.step, c == 1 ? 2 : 1) << "chunk " << c;
    EXPECT_EQ(e.rank, 0);
    EXPECT_EQ(e.codec, Codec::Kind::zstd);
    const ShardIndex& holder = c == 1 ? second : first;
    EXPECT_LE(e.offset + e.stored_bytes, holder.offset) << "chunk " << c;
    if (c != 1) {  // the same frame as step 1's entry
      EXPECT_EQ(e.offset, first.entries[c].offset);
    }
  }
  EXPECT_EQ(second.offset, 64u + second.entries[1].stored_bytes);
  // The manifest holds no entry: only the block, whose chunk count follows from its rows.
  const strata::io::detail::Manifest m = strata::io::detail::read_manifest(dir_.string(), 2);
  EXPECT_EQ(m.version, 4);
  EXPECT_EQ(m.regions[0].blocks[0].chunk_count, 4u);
  EXPECT_TRUE(m.regions[0].blocks[0].chunks.empty());
  auto [step, field] = restore();
  EXPECT_EQ(step, 2);
  EXPECT_EQ(field, v2);
  EXPECT_TRUE(strata::io::verify_checkpoint(dir_.string(), 2).empty());
}

// Proves a damaged index (its trailer's magic flipped) or a truncated one (the shard cut inside
// it, the manifest resealed to the new size so only the index's own checks can catch it) fails
// verify naming the shard, and restore skips the step with that reason and falls back to step 1.
TEST_F(CheckpointIndexTest, DamagedOrTruncatedIndexFallsBackToTheOlderStep) {
  for (const bool truncate : {false, true}) {
    fs::remove_all(dir_);
    save_two_steps(strata::io::no_compression());
    std::vector<std::byte> bytes = read_bytes(shard(2));
    if (truncate) {
      bytes.resize(bytes.size() - 40);  // the trailer and part of the last entry
      // Resealed through the codec: its own checks are tested in checkpoint_manifest_test.cpp.
      strata::io::detail::Manifest m = strata::io::detail::read_manifest(dir_.string(), 2);
      m.shards[0].bytes = bytes.size();
      std::ofstream(strata::io::detail::manifest_path(dir_, 2), std::ios::binary | std::ios::trunc)
          << strata::io::detail::encode_manifest(m);
    } else {
      bytes[bytes.size() - 32] ^= std::byte{0x20};
    }
    write_bytes(shard(2), bytes);
    const auto problems = strata::io::verify_checkpoint(dir_.string(), 2);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems[0].find("shard chunk index"), std::string::npos) << problems[0];
    EXPECT_NE(problems[0].find("shard-00000.sck"), std::string::npos) << problems[0];
    std::string skipped;
    auto [step, field] = restore("v2-fixture", &skipped);
    EXPECT_EQ(step, 1) << "truncated: " << truncate;
    EXPECT_EQ(field, expected_field(0, 0));
    EXPECT_NE(skipped.find("shard chunk index"), std::string::npos) << skipped;
  }
}

// Proves a format 2 checkpoint written before the chunk index (tests/data/checkpoint-v2, an
// incremental step 2 over step 1) restores the documented values and verifies; an incremental
// save after that restore writes format 3 whose index points into the format 2 shard of step 1,
// and that step restores too. Would fail if the v2 reading path were dropped.
TEST_F(CheckpointIndexTest, Version2CheckpointsStillRestore) {
  fs::copy(fs::path(STRATA_TEST_DATA_DIR) / "checkpoint-v2", dir_, fs::copy_options::recursive);
  fs::remove(dir_ / "README.md");
  EXPECT_TRUE(strata::io::verify_checkpoint(dir_.string(), 1).empty());
  EXPECT_TRUE(strata::io::verify_checkpoint(dir_.string(), 2).empty());
  EXPECT_EQ(strata::io::read_checkpoint_region(dir_.string(), 1, "field").size(),
            kRows * kCols * 8);
  {
    std::vector<double> field(kRows * kCols, -1.0);
    Checkpointer ck(rt_, ex_, options());
    ck.protect("field", std::span(field), {strata::Shape{kRows, kCols}, 0});
    ASSERT_EQ(ck.restore_latest(), 2);
    EXPECT_EQ(field, expected_field(2, 4));
    field[6 * kCols] = -5.0;  // chunk 3 changes; 0-2 are reused from the v2 shards
    ck.save(3);
    ck.wait();
    EXPECT_EQ(ck.status().chunks_reused, 3u);
  }
  const strata::io::detail::Manifest third_manifest =
      strata::io::detail::read_manifest(dir_.string(), 3);
  EXPECT_EQ(third_manifest.version, 4);
  EXPECT_EQ(third_manifest.depends_on, (std::vector<long>{1, 2}));
  const ShardIndex third = index_of(3);
  ASSERT_EQ(third.entries.size(), 4u);
  EXPECT_EQ(third.entries[0].step, 1);
  EXPECT_EQ(third.entries[1].step, 2);
  EXPECT_EQ(third.entries[3].step, 3);
  EXPECT_TRUE(strata::io::verify_checkpoint(dir_.string(), 3).empty());
  auto [step, field] = restore();
  EXPECT_EQ(step, 3);
  std::vector<double> want = expected_field(2, 4);
  want[6 * kCols] = -5.0;
  EXPECT_EQ(field, want);
}

// Proves a format 3 checkpoint written before the ranks' records went binary (tests/data/
// checkpoint-v3: 2 ranks, an incremental step 2 over step 1) verifies and restores the documented
// values on 1 rank; that its manifest re-encodes byte for byte as version 3 (what a drain or a
// rebuild writes); and that a save after that restore writes format 4, which restores too. Would
// fail if the format 3 reading path were dropped or a re-encode upgraded it.
TEST_F(CheckpointIndexTest, Version3CheckpointsStillRestore) {
  fs::copy(fs::path(STRATA_TEST_DATA_DIR) / "checkpoint-v3", dir_, fs::copy_options::recursive);
  fs::remove(dir_ / "README.md");
  EXPECT_TRUE(strata::io::verify_checkpoint(dir_.string(), 1).empty());
  EXPECT_TRUE(strata::io::verify_checkpoint(dir_.string(), 2).empty());
  const std::vector<std::byte> raw = read_bytes(strata::io::detail::manifest_path(dir_, 2));
  const std::string text(reinterpret_cast<const char*>(raw.data()), raw.size());
  const strata::io::detail::Manifest m = strata::io::detail::decode_manifest(text, "v3");
  EXPECT_EQ(m.version, 3);
  EXPECT_EQ(m.ranks, 2);
  EXPECT_EQ(m.depends_on, std::vector<long>{1});
  EXPECT_EQ(strata::io::detail::encode_manifest(m), text);
  auto [step, field] = restore("v3-fixture");
  EXPECT_EQ(step, 2);
  EXPECT_EQ(field, expected_field(2, 4));
  {
    std::vector<double> state(kRows * kCols, -1.0);
    CheckpointOptions o = options();
    o.run_id = "v3-fixture";
    Checkpointer ck(rt_, ex_, o);
    ck.protect("field", std::span(state), {strata::Shape{kRows, kCols}, 0});
    ASSERT_EQ(ck.restore_latest(), 2);
    state[0] = -5.0;
    ck.save(3);
    ck.wait();
  }
  EXPECT_EQ(strata::io::detail::read_manifest(dir_.string(), 3).version, 4);
  auto [third, restored] = restore("v3-fixture");
  EXPECT_EQ(third, 3);
  std::vector<double> want = expected_field(2, 4);
  want[0] = -5.0;
  EXPECT_EQ(restored, want);
}

}  // namespace
