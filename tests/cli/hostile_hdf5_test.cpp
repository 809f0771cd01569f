// SPDX-License-Identifier: Apache-2.0
// Tests of the commands that read HDF5 (stats, hist, import) on the hostile-type corpus of
// common/hostile_hdf5.hpp: every type strata has no element for is refused with one line and an
// exit code below 128, and the odd layouts end in one clean line or a correct result.
#include "common/hostile_hdf5.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/scratch_folder.hpp"
#include "run_command.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using strata::test::count_lines;
using strata::test::HostileExpectation;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

class HostileHdf5 : public strata::test::ScratchFolderTest {
 protected:
  HostileHdf5() : ScratchFolderTest("strata-cli-hostile-h5") {}

  // The reading commands on `dataset` of corpus.h5; import writes out.strata.
  std::vector<std::string> commands(const std::string& dataset) const {
    const std::string source = path("corpus.h5") + ":" + dataset;
    return {" stats " + source, " hist " + source + " --bins 4 --range 0 10",
            " import " + source + " " + path("out.strata")};
  }

  // A clean failure: one stderr line naming the dataset, an exit code in 1..127, no output.
  void expect_clean_refusal(const std::string& args, const std::string& dataset) {
    auto r = run_command(strata_cli + args);
    EXPECT_GE(r.exit_code, 1) << args << ": " << r.err;
    EXPECT_LT(r.exit_code, 128) << args << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << args << ": " << r.err;
    EXPECT_NE(r.err.find(dataset), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(path("out.strata"))) << args;
  }

  // `strata stats --json` on `dataset` of corpus.h5, which must succeed.
  json stats_of(const std::string& dataset) const {
    auto r = run_command(strata_cli + " stats --json " + path("corpus.h5") + ":" + dataset);
    EXPECT_EQ(r.exit_code, 0) << dataset << ": " << r.err;
    return r.exit_code == 0 ? json::parse(r.out) : json::object();
  }
};

// Proves every element type strata cannot hold (compound, vlen, enum, array, opaque, 128-bit
// float and integer, bitfield, strings, references) is refused by stats, hist and import with one
// line naming the dataset and an exit code below 128, leaving no output; fails on a crash, a hang
// in a type conversion, a multi-line HDF5 error stack or a half-written import.
TEST_F(HostileHdf5, TypesWithoutAStrataElementAreRefused) {
  const auto entries = strata::test::write_hostile_hdf5(path("corpus.h5"));
  ASSERT_FALSE(entries.empty());
  int refused = 0;
  for (const auto& entry : entries) {
    if (entry.expect != HostileExpectation::refuse) continue;
    ++refused;
    for (const auto& args : commands(entry.dataset)) {
      expect_clean_refusal(args, entry.dataset);
      auto r = run_command(strata_cli + args);
      EXPECT_NE(r.err.find("type"), std::string::npos) << args << ": " << r.err;
    }
  }
  EXPECT_EQ(refused, 12);
}

// Proves big-endian doubles are converted, not refused or misread: stats reports the values the
// corpus wrote (1.5, -2, 4.25, 8: sum 11.75, min -2, max 8), and import keeps them.
TEST_F(HostileHdf5, BigEndianValuesArriveConverted) {
  strata::test::write_hostile_hdf5(path("corpus.h5"));
  const json stats = stats_of("/big_endian");
  EXPECT_EQ(stats["count"], 4);
  EXPECT_EQ(stats["sum"], 11.75);
  EXPECT_EQ(stats["min"], -2.0);
  EXPECT_EQ(stats["max"], 8.0);
  auto r = run_command(strata_cli + " import " + path("corpus.h5") + ":/big_endian " +
                       path("out.strata"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(strata_cli + " stats --json " + path("out.strata"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["sum"], 11.75);
}

// Proves the layouts that lie about their size end in one clean line or a correct result: zero-
// length dimensions are an empty array (0 values, an empty import), 2^64 bytes and an element count
// that wraps to 0 are refused as overflows, a 2 GiB chunk over four unwritten values gives their
// fill value, and a filter the reader lacks is refused naming the filter (HDF5 named only its
// plugin folder); fails on a crash, an allocation failure, a hang or a wrong count.
TEST_F(HostileHdf5, OddLayoutsAreCleanErrorsOrCorrect) {
  strata::test::write_hostile_hdf5(path("corpus.h5"));
  for (const char* dataset : {"/zero_rows", "/zero_columns"}) {
    EXPECT_EQ(stats_of(dataset)["count"], 0) << dataset;
    auto r = run_command(strata_cli + " import " + path("corpus.h5") + ":" + dataset + " " +
                         path("out.strata"));
    EXPECT_EQ(r.exit_code, 0) << dataset << ": " << r.err;
    fs::remove(path("out.strata"));
  }
  const json fill = stats_of("/absurd_chunk");
  EXPECT_EQ(fill["count"], 4);
  EXPECT_EQ(fill["sum"], 0.0);
  EXPECT_EQ(fill["max"], 0.0);
  for (const char* dataset : {"/huge_bytes", "/wrapping_count"}) {
    for (const auto& args : commands(dataset)) {
      expect_clean_refusal(args, dataset);
      EXPECT_NE(run_command(strata_cli + args).err.find("overflows"), std::string::npos) << args;
    }
  }
  for (const auto& args : commands("/unavailable_filter")) {
    expect_clean_refusal(args, "/unavailable_filter");
    EXPECT_NE(run_command(strata_cli + args).err.find("filter=strata-test-only (id 32100)"),
              std::string::npos)
        << args;
  }
}

}  // namespace
