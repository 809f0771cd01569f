// SPDX-License-Identifier: Apache-2.0
// Tests of how strata creates the files it publishes (the .strata writer, HDF5 import and export):
// a symlink planted where the temporary file used to be predictable (".NAME.tmp-PID") or at the
// final name never redirects a write, and new files get 0666 less the umask, never more.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/scratch_folder.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

namespace fs = std::filesystem;
using strata::DType;
using strata::io::StrataWriter;

// A per-test scratch folder with a "victim" file outside the names strata writes, removed after.
class PublishedFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = strata::test::scratch_path("strata-io-publish");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(path("victim")) << "precious";
  }
  void TearDown() override {
    ::umask(saved_umask_);
    fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string victim() const {
    std::ifstream in(path("victim"));
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
  void write_strata(const std::string& file) {
    std::vector<double> values(1000, 2.5);
    StrataWriter w(file, {{"values", DType::f64, {1000}, 4096}});
    w.append(0, std::as_bytes(std::span(values)));
    w.finish();
  }
  static unsigned mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  // The temporary name strata used before: hidden, beside the target, the process id.
  std::string old_temp_name(const std::string& final_name) const {
    return path("." + final_name + ".tmp-" + std::to_string(getpid()));
  }

  fs::path dir_;
  mode_t saved_umask_ = ::umask(022);
};

// Proves a symlink planted at the old predictable temporary name does not redirect the .strata
// writer: the victim it points to is unchanged and the output is a regular file (before, the
// writer truncated and wrote the victim, then renamed the link into place).
TEST_F(PublishedFiles, WriterIgnoresASymlinkAtThePredictableTemporaryName) {
  fs::create_symlink(path("victim"), old_temp_name("out.strata"));
  write_strata(path("out.strata"));
  EXPECT_EQ(victim(), "precious");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path("out.strata"))));
  EXPECT_TRUE(strata::io::StrataFile::open(path("out.strata")).verify().ok());
}

// Proves the same for the HDF5 export (it created its temporary file through HDF5 with
// H5F_ACC_TRUNC, which followed the link and overwrote the victim).
TEST_F(PublishedFiles, ExportIgnoresASymlinkAtThePredictableTemporaryName) {
  write_strata(path("in.strata"));
  fs::create_symlink(path("victim"), old_temp_name("out.h5"));
  strata::io::export_strata(path("in.strata"), path("out.h5"));
  EXPECT_EQ(victim(), "precious");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path("out.h5"))));
}

// Proves publishing does not follow a symlink planted at the final name: rename replaces the link
// itself (the folder entry), so the link's target keeps its contents and the final name becomes
// the new regular file.
TEST_F(PublishedFiles, PublishingReplacesASymlinkAtTheFinalNameNotItsTarget) {
  fs::create_symlink(path("victim"), path("out.strata"));
  write_strata(path("out.strata"));
  EXPECT_EQ(victim(), "precious");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path("out.strata"))));

  write_strata(path("in.strata"));
  fs::remove(path("victim"));
  fs::create_symlink(path("victim"), path("out.h5"));  // dangling: export sees no existing file
  strata::io::export_strata(path("in.strata"), path("out.h5"));
  EXPECT_FALSE(fs::exists(path("victim")));
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path("out.h5"))));
}

// Proves files strata creates get 0666 & ~umask: group- and world-readable under 022, private
// under 077 (before: 0644 forced the umask's group-write away but also ignored a looser 002), and
// no temporary file is left behind.
TEST_F(PublishedFiles, NewFilesFollowTheUmask) {
  write_strata(path("in.strata"));
  for (mode_t mask : {mode_t{022}, mode_t{077}, mode_t{002}}) {
    SCOPED_TRACE(mask);
    ::umask(mask);
    const std::string name = "out-" + std::to_string(mask);
    write_strata(path(name + ".strata"));
    EXPECT_EQ(mode_of(path(name + ".strata")), 0666u & ~mask);
    strata::io::export_strata(path("in.strata"), path(name + ".h5"));
    EXPECT_EQ(mode_of(path(name + ".h5")), 0666u & ~mask);
  }
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

}  // namespace
