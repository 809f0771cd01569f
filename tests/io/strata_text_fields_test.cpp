// SPDX-License-Identifier: Apache-2.0
// Tests that the .strata reader refuses text fields the format says are UTF-8 (array names,
// metadata keys, the creator) when they are not, naming the field: such files made `--json`
// output throw. Files are written by StrataWriter and patched, checksums recomputed with XXH3.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "strata/io/format/strata_file.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

namespace fs = std::filesystem;

class StrataTextFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = (fs::temp_directory_path() / ("strata-text-" + std::to_string(getpid()) + ".strata"))
                .string();
    strata::io::StrataWriter w(file_, {{"abc", strata::DType::u8, strata::Shape{16}, 4096}},
                               {{"key", "value"}});
    const std::vector<std::byte> data(16, std::byte{7});
    w.append(0, data);
    w.finish();
    std::ifstream in(file_, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
  }
  void TearDown() override { fs::remove(file_); }

  std::uint64_t u64(std::size_t at) const {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes_.data() + at, 8);
    return v;
  }
  void put_u64(std::size_t at, std::uint64_t v) { std::memcpy(bytes_.data() + at, &v, 8); }

  // Recomputes the table, metadata and header checksums and writes the file back.
  void reseal() {
    put_u64(136, XXH3_64bits(bytes_.data() + u64(120), u64(128)));
    put_u64(160, XXH3_64bits(bytes_.data() + u64(144), u64(152)));
    put_u64(504, XXH3_64bits(bytes_.data(), 504));
    std::ofstream(file_, std::ios::binary)
        .write(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
  }

  // Expects open to throw corrupt_data whose message or context names `field`.
  void expect_refused(const std::string& field) {
    try {
      (void)strata::io::StrataFile::open(file_);
      ADD_FAILURE() << "opened a file with a non-UTF-8 " << field;
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data) << e.what();
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
    }
  }

  std::string file_;
  std::vector<char> bytes_;
};

// Proves an array name with a byte that is never UTF-8 is refused on open, naming the field.
TEST_F(StrataTextFieldsTest, NonUtf8ArrayNameIsCorrupt) {
  ASSERT_EQ(std::string(bytes_.data() + 512, 3), "abc");
  bytes_[513] = '\xff';
  reseal();
  expect_refused("name");
}

// Proves a metadata key that is not UTF-8 is refused on open, naming the entry's key.
TEST_F(StrataTextFieldsTest, NonUtf8MetadataKeyIsCorrupt) {
  const std::size_t key = u64(144) + 4 + 6;
  ASSERT_EQ(std::string(bytes_.data() + key, 3), "key");
  bytes_[key + 1] = '\xc3';  // a lead byte followed by 'y': a broken sequence
  reseal();
  expect_refused("metadata[0].key");
}

// Proves a creator that is not UTF-8 is refused on open.
TEST_F(StrataTextFieldsTest, NonUtf8CreatorIsCorrupt) {
  bytes_[40] = '\x80';
  reseal();
  expect_refused("creator");
}

// Proves metadata values, bytes by the format, may be anything: the file still opens.
TEST_F(StrataTextFieldsTest, NonUtf8MetadataValueStillOpens) {
  const std::size_t value = u64(144) + 4 + 6 + 3;
  ASSERT_EQ(std::string(bytes_.data() + value, 5), "value");
  bytes_[value] = '\xff';
  reseal();
  const auto f = strata::io::StrataFile::open(file_);
  EXPECT_EQ(f.metadata().at(0).second,
            "\xff"
            "alue");
}

}  // namespace
