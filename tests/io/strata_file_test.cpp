// SPDX-License-Identifier: Apache-2.0
// Tests of the .strata format: round trips through StrataWriter and StrataFile, and a corpus of
// malformed files — each built by patching the documented byte offsets of docs/formats.md with
// checksums recomputed by xxHash directly — each failing with its own field named.
#include "strata/io/format/strata_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/scratch_folder.hpp"
#include "common/vm_flags.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/machine/mapping_pages.hpp"

namespace {

namespace fs = std::filesystem;
using strata::DType;
using strata::io::ArraySpec;
using strata::io::StrataFile;
using strata::io::StrataWriter;

// A per-test scratch folder, removed afterwards.
class StrataFileTest : public strata::test::ScratchFolderTest {
 protected:
  StrataFileTest() : ScratchFolderTest("strata-io") {}

  // Writes a file with a 1000x3 f64 array "pos" and a 7-element i32 array "ids", 4 KiB chunks.
  std::string write_sample(const std::string& name = "sample.strata") {
    pos_.resize(3000);
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(-1, 1);
    for (auto& v : pos_) v = u(rng);
    ids_ = {5, -3, 7, 11, 0, 2147483647, -2147483647};
    StrataWriter w(path(name),
                   {{"pos", DType::f64, {1000, 3}, 4096}, {"ids", DType::i32, {7}, 4096}},
                   {{"generator", "test"}, {"seed", "42"}}, "strata-test");
    w.append(0, std::as_bytes(std::span(pos_)));
    w.append(1, std::as_bytes(std::span(ids_)));
    w.finish();
    return path(name);
  }

  std::vector<char> load(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), {});
  }
  void store(const std::string& p, const std::vector<char>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  template <class T>
  static T field(const std::vector<char>& f, std::size_t offset) {
    T v;
    std::memcpy(&v, f.data() + offset, sizeof(T));
    return v;
  }
  template <class T>
  static void set_field(std::vector<char>& f, std::size_t offset, T v) {
    std::memcpy(f.data() + offset, &v, sizeof(T));
  }
  // Recomputes the table and header checksums after a patch (offsets from docs/formats.md).
  static void reseal(std::vector<char>& f) {
    auto table_bytes = field<std::uint64_t>(f, 128);
    set_field<std::uint64_t>(f, 136, XXH3_64bits(f.data() + 512, table_bytes));
    set_field<std::uint64_t>(f, 504, XXH3_64bits(f.data(), 504));
  }
  // Expects open() to fail with corrupt_data naming `field` (a prefix match).
  void expect_corrupt(const std::vector<char>& bytes, const std::string& field_prefix) {
    store(path("bad.strata"), bytes);
    try {
      StrataFile::open(path("bad.strata"));
      ADD_FAILURE() << "opened a file with a bad " << field_prefix;
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data) << e.what();
      EXPECT_EQ(std::string(e.context_value("field")).rfind(field_prefix, 0), 0u) << e.what();
      EXPECT_EQ(e.context_value("file"), path("bad.strata"));
    }
  }

  std::vector<double> pos_;
  std::vector<std::int32_t> ids_;
};

// Proves what is written reads back byte for byte, with the header, layout and metadata the
// format specifies.
TEST_F(StrataFileTest, RoundTrip) {
  std::string p = write_sample();
  StrataFile f = StrataFile::open(p);
  ASSERT_EQ(f.arrays().size(), 2u);
  const auto& pos = f.array("pos");
  EXPECT_EQ(pos.dtype, DType::f64);
  EXPECT_EQ(pos.shape, (strata::Shape{1000, 3}));
  EXPECT_EQ(pos.data_offset % (2u << 20), 0u);
  EXPECT_EQ(pos.chunk_count, (24000u + 4095) / 4096);
  auto bytes = f.bytes(pos, 0, pos.data_bytes);
  EXPECT_EQ(std::memcmp(bytes.data(), pos_.data(), pos.data_bytes), 0);
  std::vector<std::int32_t> ids(7);
  f.read(f.array("ids"), 0, std::as_writable_bytes(std::span(ids)));
  EXPECT_EQ(ids, ids_);
  EXPECT_EQ(f.header().version_major, 1);
  EXPECT_EQ(f.header().creator, "strata-test");
  EXPECT_EQ(f.header().file_bytes, fs::file_size(p));
  EXPECT_EQ(f.header().uuid[6] >> 4, 4);  // a version-4 UUID
  EXPECT_EQ(f.metadata(), (strata::io::Metadata{{"generator", "test"}, {"seed", "42"}}));
  EXPECT_TRUE(f.verify().ok());
  EXPECT_TRUE(f.verify(2).ok());
  EXPECT_THROW(f.array("nope"), strata::Error);
}

// Proves a read-only open asks for huge pages on its mapping (VmFlags "hg": a cold read then fills
// the page cache with 2 MiB folios that every later run maps cheaply) and a read-write open does
// not; fails if the advice is dropped or reaches writable mappings.
TEST_F(StrataFileTest, ReadOnlyMappingAsksForHugePages) {
  if (!fs::exists("/sys/kernel/mm/transparent_hugepage")) {
    GTEST_SKIP() << "no transparent huge pages in this kernel";
  }
  std::string p = write_sample();
  {
    StrataFile f = StrataFile::open(p);
    const auto& pos = f.array("pos");
    EXPECT_TRUE(strata::test::has_vm_flag(f.bytes(pos, 0, 8).data(), "hg"));
  }
  StrataFile rw = StrataFile::open(p, StrataFile::Access::read_write);
  const auto& pos = rw.array("pos");
  EXPECT_FALSE(strata::test::has_vm_flag(rw.bytes(pos, 0, 8).data(), "hg"));
}

// Proves verify counts threads as an Executor does: 0 is all allowed CPUs (a full check), and a
// count no machine allows is Error(invalid_argument) naming it instead of an arena of that size.
TEST_F(StrataFileTest, VerifyChecksItsThreadCount) {
  write_sample("v.strata");
  StrataFile f = StrataFile::open(path("v.strata"));
  unsetenv("STRATA_THREADS");
  const auto all = f.verify(0);
  EXPECT_TRUE(all.ok());
  EXPECT_EQ(all.chunks_checked, f.array("pos").chunk_count + f.array("ids").chunk_count);
  try {
    f.verify(1000000);
    ADD_FAILURE() << "verify(1000000) was accepted";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument);
    EXPECT_EQ(e.context_value("threads"), "1000000");
  }
}

// Proves chunks written out of order from several threads make the same file as appending.
TEST_F(StrataFileTest, ParallelChunksInAnyOrder) {
  write_sample("a.strata");
  StrataWriter w(path("b.strata"), {{"pos", DType::f64, {1000, 3}, 4096}, {"ids", DType::i32, {7}, 4096}});
  auto all = std::as_bytes(std::span(pos_));
  const std::uint64_t chunks = w.arrays()[0].chunk_count;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t c = chunks; c-- > 0;) {
        if (c % 2 != static_cast<std::uint64_t>(t)) continue;
        std::size_t first = c * 4096;
        w.write_chunk(0, c, all.subspan(first, std::min<std::size_t>(4096, all.size() - first)));
      }
    });
  }
  for (auto& t : threads) t.join();
  w.write_chunk(1, 0, std::as_bytes(std::span(ids_)));
  w.finish();
  StrataFile a = StrataFile::open(path("a.strata"));
  StrataFile b = StrataFile::open(path("b.strata"));
  EXPECT_TRUE(b.verify().ok());
  auto x = a.bytes(a.array("pos"), 0, 24000);
  auto y = b.bytes(b.array("pos"), 0, 24000);
  EXPECT_EQ(std::memcmp(x.data(), y.data(), 24000), 0);
}

// Proves an unfinished writer leaves neither the file nor its temporary behind, and that a missing
// or doubled chunk is refused.
TEST_F(StrataFileTest, UnfinishedWriterLeavesNothing) {
  {
    StrataWriter w(path("x.strata"), {{"a", DType::u8, {10000}, 4096}});
    w.write_chunk(0, 0, std::vector<std::byte>(4096));
    EXPECT_THROW(w.write_chunk(0, 0, std::vector<std::byte>(4096)), strata::Error);
    EXPECT_THROW(w.write_chunk(0, 2, std::vector<std::byte>(4096)), strata::Error);  // last is short
    try {
      w.finish();
      ADD_FAILURE() << "finished with a missing chunk";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.context_value("chunk"), "1");
    }
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

// Proves bad writer input is refused up front: duplicate and bad names, odd chunk sizes.
TEST_F(StrataFileTest, WriterRejectsBadSpecs) {
  EXPECT_THROW(StrataWriter(path("x"), {{"a", DType::u8, {1}}, {"a", DType::u8, {1}}}), strata::Error);
  EXPECT_THROW(StrataWriter(path("x"), {{"a/b", DType::u8, {1}}}), strata::Error);
  EXPECT_THROW(StrataWriter(path("x"), {{"", DType::u8, {1}}}), strata::Error);
  EXPECT_THROW(StrataWriter(path("x"), {{"a", DType::u8, {1}, 1000}}), strata::Error);
  EXPECT_THROW(StrataWriter(path("x"), {}), strata::Error);
  EXPECT_TRUE(fs::is_empty(dir_));
}

// Proves the malformed-file corpus: each defect is refused on open naming its own field.
TEST_F(StrataFileTest, MalformedCorpusNamesTheField) {
  const std::vector<char> good = load(write_sample());
  constexpr std::size_t entry = 512;  // first array table entry

  auto truncated = good;
  truncated.resize(good.size() - 4096);
  expect_corrupt(truncated, "file_bytes");
  expect_corrupt(std::vector<char>(good.begin(), good.begin() + 100), "header");

  auto magic = good;
  magic[1] = 'X';
  expect_corrupt(magic, "magic");

  auto header_flip = good;
  header_flip[40] ^= 1;  // creator text, covered by the header checksum
  expect_corrupt(header_flip, "header_checksum");

  auto future = good;
  set_field<std::uint16_t>(future, 8, 2);
  reseal(future);
  expect_corrupt(future, "version_major");

  auto overflow = good;
  set_field<std::uint64_t>(overflow, entry + 72, std::uint64_t{1} << 62);
  set_field<std::uint64_t>(overflow, entry + 80, std::uint64_t{1} << 62);
  reseal(overflow);
  expect_corrupt(overflow, "arrays[0].shape");

  auto past_end = good;
  set_field<std::uint64_t>(past_end, entry + 136, std::uint64_t{1} << 40);
  reseal(past_end);
  expect_corrupt(past_end, "arrays[0].data_offset");

  auto bad_table = good;
  bad_table[entry + 3] ^= 1;  // name byte, table checksum not recomputed
  expect_corrupt(bad_table, "table_checksum");

  auto dtype = good;
  dtype[entry + 64] = 42;
  reseal(dtype);
  expect_corrupt(dtype, "arrays[0].dtype");

  auto trailing = good;
  trailing.push_back(0);
  expect_corrupt(trailing, "file_bytes");

  auto overlap = good;  // second array's data placed on top of the first
  set_field<std::uint64_t>(overlap, entry + 256 + 136, field<std::uint64_t>(good, entry + 136));
  reseal(overlap);
  expect_corrupt(overlap, "arrays");
}

// Proves a chunk size near 2^64, whose chunk count wraps to 0 when computed as
// (data_bytes + chunk_bytes - 1) / chunk_bytes, is rejected on open naming chunk_bytes instead of
// verifying "all 0 chunks"; and that a chunk count that disagrees with the size is rejected.
TEST_F(StrataFileTest, ChunkBytesNearTwoToThe64IsRejected) {
  const std::vector<char> good = load(write_sample());
  constexpr std::size_t entry = 512;
  auto wrapped = good;
  set_field<std::uint64_t>(wrapped, entry + 152,
                           std::uint64_t{18446744073709547520u});  // 2^64 - 4096
  set_field<std::uint64_t>(wrapped, entry + 160, 0);
  reseal(wrapped);
  expect_corrupt(wrapped, "arrays[0].chunk_bytes");

  auto too_large = good;  // 2 GiB: a multiple of 4096, over the 1 GiB maximum; count 1 is right
  set_field<std::uint64_t>(too_large, entry + 152, std::uint64_t{1} << 31);
  set_field<std::uint64_t>(too_large, entry + 160, 1);
  reseal(too_large);
  expect_corrupt(too_large, "arrays[0].chunk_bytes");

  auto zero_count = good;  // valid 1 GiB chunks, but a chunk count of 0 for 24000 bytes of data
  set_field<std::uint64_t>(zero_count, entry + 152, std::uint64_t{1} << 30);
  set_field<std::uint64_t>(zero_count, entry + 160, 0);
  reseal(zero_count);
  expect_corrupt(zero_count, "arrays[0].chunk_count");
}

// Proves the writer refuses chunk sizes the reader would reject: near 2^64, over 1 GiB, not a
// multiple of 4096; and accepts the 1 GiB maximum.
TEST_F(StrataFileTest, WriterRefusesChunkBytesOutsideTheLimits) {
  for (std::uint64_t chunk : {std::uint64_t{18446744073709547520u}, (std::uint64_t{1} << 30) + 4096,
                              std::uint64_t{0}, std::uint64_t{6000}}) {
    try {
      StrataWriter(path("x.strata"), {{"a", DType::f64, {8192}, chunk}});
      ADD_FAILURE() << "accepted chunk_bytes " << chunk;
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument) << e.what();
      EXPECT_EQ(e.context_value("chunk_bytes"), std::to_string(chunk));
    }
  }
  std::vector<double> values(8192, 1.5);
  StrataWriter w(path("max.strata"), {{"a", DType::f64, {8192}, std::uint64_t{1} << 30}});
  w.append(0, std::as_bytes(std::span(values)));
  w.finish();
  StrataFile f = StrataFile::open(path("max.strata"));
  EXPECT_EQ(f.array("a").chunk_count, 1u);
  EXPECT_EQ(f.verify().chunks_checked, 1u);
}

// Proves a flipped data byte is found: verify names the array and chunk, and a view or read that
// covers the chunk fails with corrupt_data, while other chunks stay readable.
TEST_F(StrataFileTest, ChecksumMismatchIsFoundLazilyAndByVerify) {
  std::vector<char> bytes = load(write_sample());
  auto data_offset = field<std::uint64_t>(bytes, 512 + 136);
  bytes[data_offset + 3 * 4096 + 17] ^= 0x40;  // inside chunk 3 of "pos"
  store(path("flipped.strata"), bytes);
  StrataFile f = StrataFile::open(path("flipped.strata"));
  const auto& pos = f.array("pos");
  EXPECT_NO_THROW(f.bytes(pos, 0, 3 * 4096));
  try {
    f.bytes(pos, 3 * 4096 + 100, 8);
    ADD_FAILURE() << "handed out a corrupt chunk";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data);
    EXPECT_EQ(e.context_value("chunk"), "3");
    EXPECT_EQ(e.context_value("array"), "pos");
  }
  std::vector<std::byte> out(16);
  EXPECT_THROW(f.read(pos, 3 * 4096, out), strata::Error);
  auto result = f.verify(2);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(*result.bad_array, "pos");
  EXPECT_EQ(result.bad_chunk, 3u);
}

// Proves in-place modification through a read-write view updates the touched chunks' checksums
// on flush, so the modified file verifies and reads back the new values.
TEST_F(StrataFileTest, InPlaceModificationUpdatesChecksums) {
  std::string p = write_sample();
  {
    StrataFile f = StrataFile::open(p, StrataFile::Access::read_write);
    const auto& pos = f.array("pos");
    auto view = f.writable(pos, 10000, 16);
    double values[2] = {123.5, -7.25};
    std::memcpy(view.data(), values, 16);
    f.flush();
  }
  StrataFile f = StrataFile::open(p);
  EXPECT_TRUE(f.verify().ok()) << f.verify().message();
  double back[2];
  f.read(f.array("pos"), 10000, std::as_writable_bytes(std::span(back)));
  EXPECT_EQ(back[0], 123.5);
  EXPECT_EQ(back[1], -7.25);
  StrataFile ro = StrataFile::open(p);
  EXPECT_THROW(ro.writable(ro.array("pos"), 0, 8), strata::Error);
}

// Proves a file truncated after it was opened gives an error from views and reads, not SIGBUS.
TEST_F(StrataFileTest, TruncatedAfterOpenIsAnError) {
  std::string p = write_sample();
  StrataFile f = StrataFile::open(p);
  const auto& pos = f.array("pos");
  fs::resize_file(p, pos.data_offset + 100);
  EXPECT_THROW(f.bytes(pos, 4096, 4096), strata::Error);
  std::vector<std::byte> out(4096);
  EXPECT_THROW(f.read(pos, 4096, out), strata::Error);
}

// Proves a file from a missing path is an io error naming it.
TEST_F(StrataFileTest, MissingFileIsIoError) {
  try {
    StrataFile::open(path("absent.strata"));
    FAIL();
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::io);
  }
}

}  // namespace

namespace {

// Proves read_unverified gives the array's bytes whether they are out of the page cache (pread) or
// in it (memcpy from the mapping), and that the warm copy leaves none of the array's pages mapped
// in this process (the copy gives back the page-table entries it made); fails if either path
// copies wrong bytes or a resident load would keep the file in its resident set.
TEST_F(StrataFileTest, ReadUnverifiedCopiesColdAndWarm) {
  std::vector<double> values(1 << 17);  // 1 MiB
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i) * 0.5 - 7;
  {
    StrataWriter w(path("warm.strata"), {{"v", DType::f64, {values.size()}, 64 << 10}}, {},
                   "strata-test");
    w.append(0, std::as_bytes(std::span(values)));
    w.finish();
  }
  const std::string p = path("warm.strata");
  StrataFile f = StrataFile::open(p);
  const auto& v = f.array("v");
  std::vector<double> out(values.size() - 3);
  const auto as_out = [&] { return std::as_writable_bytes(std::span(out)); };
  {
    const int fd = ::open(p.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  f.read_unverified(v, 8, as_out());  // cold, or partly: pread
  EXPECT_EQ(std::memcmp(out.data(), values.data() + 1, out.size() * sizeof(double)), 0);

  const auto view = f.bytes(v, 0, v.data_bytes);  // maps every page of the array
  ASSERT_GE(strata::mapping_pages(view.data(), view.size()).rss_bytes, v.data_bytes);
  std::fill(out.begin(), out.end(), 0.0);
  f.read_unverified(v, 8, as_out());  // warm: memcpy from the mapping
  EXPECT_EQ(std::memcmp(out.data(), values.data() + 1, out.size() * sizeof(double)), 0);
  // The mapping keeps at most the pages at the copy's ragged ends and the file's head and table.
  EXPECT_LT(strata::mapping_pages(view.data(), view.size()).rss_bytes, v.data_bytes / 4);
}

}  // namespace
