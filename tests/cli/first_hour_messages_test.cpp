// SPDX-License-Identifier: Apache-2.0
// Tests of the messages a new user meets first: a mistyped command, a negative or zero count, an
// HDF5 file given where a .strata file is expected, an empty checkpoint folder, and the spellings
// users bring from h5py and NumPy (a dataset path without its leading '/', float32, 1.5G).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/scratch_folder.hpp"
#include "run_command.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

class FirstHourMessages : public strata::test::ScratchFolderTest {
 protected:
  FirstHourMessages() : ScratchFolderTest("strata-cli-first-hour") {}

  // small.h5 with /fields/temp: 1000 f64 values 0, 1, ..., 999, as h5py would write it.
  std::string write_small_h5() const {
    const std::string file = path("small.h5");
    std::vector<double> values(1000);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i);
    hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/fields", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t n = values.size();
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(g, "temp", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(d);
    H5Sclose(space);
    H5Gclose(g);
    H5Fclose(f);
    return file;
  }
};

// Proves a mistyped command is named, with the nearest real one, in one line and exit 2, at the
// top level and under ckpt (before: "A subcommand is required"); a word near nothing gets no guess.
TEST_F(FirstHourMessages, UnknownCommandIsNamedWithTheNearest) {
  auto stat = run_command(strata_cli + " stat f");
  EXPECT_EQ(stat.exit_code, 2);
  EXPECT_EQ(stat.err,
            "strata: unknown command 'stat'; did you mean 'stats'? (see strata --help)\n");
  auto lst = run_command(strata_cli + " ckpt lst " + path(""));
  EXPECT_EQ(lst.exit_code, 2);
  EXPECT_EQ(lst.err,
            "strata: unknown command 'lst'; did you mean 'list'? (see strata ckpt --help)\n");
  auto far = run_command(strata_cli + " frobnicate");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_EQ(far.err, "strata: unknown command 'frobnicate' (see strata --help)\n");
}

// Proves `hist --bins -5` and `ckpt prune --keep 0` say what is wanted in one line, exit 2
// (before: "got 18446744073709551611" and a range from 2.2e-308 to 1.8e308).
TEST_F(FirstHourMessages, CountsBelowTheMinimumAreOneClearLine) {
  auto bins = run_command(strata_cli + " hist " + path("x.strata") + " --range 0 1 --bins -5");
  EXPECT_EQ(bins.exit_code, 2);
  EXPECT_EQ(count_lines(bins.err), 1) << bins.err;
  EXPECT_NE(bins.err.find("--bins: must be a whole number of at least 1, got -5"),
            std::string::npos)
      << bins.err;
  auto keep = run_command(strata_cli + " ckpt prune " + path("") + " --keep 0");
  EXPECT_EQ(keep.exit_code, 2);
  EXPECT_EQ(count_lines(keep.err), 1) << keep.err;
  EXPECT_NE(keep.err.find("--keep: must be a whole number of at least 1, got 0"), std::string::npos)
      << keep.err;
  EXPECT_EQ(keep.err.find("e+308"), std::string::npos) << keep.err;
}

// Proves `inspect small.h5` says it is an HDF5 file and how to name a dataset in it (before:
// "corrupt_data ... bad magic"), as does verify.
TEST_F(FirstHourMessages, InspectOfAnHdf5FileSaysWhatToDo) {
  const std::string h5 = write_small_h5();
  for (const std::string command : {" inspect ", " verify "}) {
    auto r = run_command(strata_cli + command + h5);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("an HDF5 file, not a .strata file"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("FILE.h5:/group/dataset"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("corrupt"), std::string::npos) << r.err;
  }
}

// Proves `ckpt list` on a folder without checkpoints fails with one line saying so (before: an
// empty table and exit 0), in text and JSON.
TEST_F(FirstHourMessages, ListOfAFolderWithoutCheckpointsFails) {
  for (const std::string json_flag : {"", " --json"}) {
    auto r = run_command(strata_cli + " ckpt list" + json_flag + " " + path(""));
    EXPECT_EQ(r.exit_code, 1) << json_flag;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("no checkpoints in the folder"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << json_flag;
  }
}

// Proves a dataset path without its leading '/' (h5py's "fields/temp") names the same dataset:
// the same count and sum as "/fields/temp" (0 + 1 + ... + 999 = 499500).
TEST_F(FirstHourMessages, Hdf5PathWithoutLeadingSlashIsAccepted) {
  const std::string h5 = write_small_h5();
  for (const std::string spec : {h5 + ":fields/temp", h5 + ":/fields/temp"}) {
    auto r = run_command(strata_cli + " stats --json " + spec);
    ASSERT_EQ(r.exit_code, 0) << spec << ": " << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["count"], 1000) << spec;
    EXPECT_EQ(j["sum"], 499500.0) << spec;
  }
}

// Proves gen takes NumPy's dtype names (--dtype float32 writes f32, uint16 writes u16) and a
// fractional size (--size 1.5M is 1572864 bytes: 393216 f32 values).
TEST_F(FirstHourMessages, NumpyDtypeNamesAndFractionalSizes) {
  auto g = run_command(strata_cli + " gen " + path("a.strata") + " --dtype float32 --size 1.5M");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  auto i = run_command(strata_cli + " inspect --json " + path("a.strata"));
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const json j = json::parse(i.out);
  EXPECT_EQ(j["arrays"][0]["dtype"], "f32");
  EXPECT_EQ(j["arrays"][0]["shape"][0], 393216);
  auto u = run_command(strata_cli + " gen " + path("b.strata") + " --dtype uint16 --size 0.5K");
  ASSERT_EQ(u.exit_code, 0) << u.err;
  const json k = json::parse(run_command(strata_cli + " inspect --json " + path("b.strata")).out);
  EXPECT_EQ(k["arrays"][0]["dtype"], "u16");
  EXPECT_EQ(k["arrays"][0]["shape"][0], 256);
  auto bad = run_command(strata_cli + " gen " + path("c.strata") + " --size 1.5.G");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
  EXPECT_FALSE(fs::exists(path("c.strata")));
}

}  // namespace
