// SPDX-License-Identifier: Apache-2.0
// Tests of what long commands say while they work and what they refuse before working: progress
// lines on stderr when it is a file (percent, rate), none with --quiet or for fast work; an
// output whose folder is a file, cannot be written or has too little space refused at once with
// one line; and strata_analysis --out refusing a folder before its pass.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "common/scratch_folder.hpp"
#include "run_command.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

class ProgressAndOutputs : public strata::test::ScratchFolderTest {
 protected:
  ProgressAndOutputs() : ScratchFolderTest("strata-cli-progress") {}

  // Names in the scratch folder other than `keep`: what a refused command must not leave.
  bool only(const std::set<std::string>& keep) const {
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (!keep.contains(e.path().filename().string())) return false;
    }
    return true;
  }
};

// Lines "<label>: N% <done> / <total>, <rate>/s ..." as the report prints them to a file.
int progress_lines(const std::string& err, const std::string& label) {
  const std::regex line("^" + label +
                        ": [0-9]+% [0-9.]+ [KMG]?i?B / [0-9.]+ [KMG]?i?B, [0-9.]+ "
                        "[KMG]?i?B/s.*$");
  int n = 0;
  std::size_t start = 0;
  while (start < err.size()) {
    std::size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    if (std::regex_match(err.substr(start, end - start), line)) ++n;
    start = end + 1;
  }
  return n;
}

// Proves gen, import and export with stderr redirected to a file print progress lines with
// percent and rate at the interval STRATA_PROGRESS_SECONDS sets, ending at 100%; it would fail if
// progress were drawn only on a terminal (the old bar of gen) or not at all (import, export).
TEST_F(ProgressAndOutputs, LongCommandsPrintPercentLinesIntoAFile) {
  const std::string fast = "STRATA_PROGRESS_SECONDS=0.01 ";
  auto gen = run_command(fast + strata_cli + " gen " + path("x.strata") +
                         " --size 32M --kind normal --threads 1");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_GE(progress_lines(gen.err, "gen " + path("x.strata")), 2) << gen.err;
  EXPECT_NE(gen.err.find(": 100% 32.00 MiB / 32.00 MiB"), std::string::npos) << gen.err;

  auto exp = run_command(fast + strata_cli + " export " + path("x.strata") + " " + path("x.h5"));
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_GE(progress_lines(exp.err, "export " + path("x.h5")), 1) << exp.err;

  auto imp =
      run_command(fast + strata_cli + " import " + path("x.h5") + ":/values " + path("y.strata"));
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_GE(progress_lines(imp.err, "import " + path("y.strata")), 1) << imp.err;

  // --quiet: the same work, not a line.
  auto quiet = run_command(fast + strata_cli + " gen " + path("q.strata") +
                           " --size 32M --kind normal --threads 1 --quiet");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
}

// Proves work that ends within the first second prints no progress at all (default interval):
// a small gen and verify leave stderr empty.
TEST_F(ProgressAndOutputs, FastCommandsPrintNothing) {
  auto gen = run_command(strata_cli + " gen " + path("s.strata") + " --size 1M");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_EQ(gen.err, "");
  auto verify = run_command(strata_cli + " verify " + path("s.strata"));
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.err, "");
}

// Proves an output under a path whose folder is a regular file (`out/x.strata` with `out` a
// file) is refused before any work with one line, for every writing command; before, gen ran
// its whole pass and failed on the rename.
TEST_F(ProgressAndOutputs, FolderThatIsAFileIsRefusedFirst) {
  std::ofstream(path("out")) << "a file, not a folder";
  ASSERT_EQ(run_command(strata_cli + " gen " + path("in.strata") + " --size 1M").exit_code, 0);
  for (const std::string& command : {" gen " + path("out/x.strata") + " --size 1M",
                                     " export " + path("in.strata") + " " + path("out/x.h5")}) {
    auto r = run_command(strata_cli + command);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("the output's folder is not a folder"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(only({"out", "in.strata"}));
}

// Proves an output larger than the free space of its file system is refused before any byte is
// written, naming both sizes (no file system here has 1000 TiB free).
TEST_F(ProgressAndOutputs, OutputLargerThanTheFreeSpaceIsRefusedFirst) {
  auto r = run_command(strata_cli + " gen " + path("big.strata") + " --size 1000T");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("resource: not enough free space for the output: it needs about "
                       "1000.00 TiB"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(only({}));
}

// Proves a folder that cannot be written (a read-only file system, which binds root too) is
// refused before any work. Needs a tmpfs mount: skipped where this process may not mount.
TEST_F(ProgressAndOutputs, ReadOnlyFolderIsRefusedFirst) {
  const std::string ro = path("ro");
  fs::create_directories(ro);
  if (::mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a read-only tmpfs here";
  }
  auto r = run_command(strata_cli + " gen " + ro + "/x.strata --size 1M");
  ::umount(ro.c_str());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cannot write into the output's folder: Read-only file system"),
            std::string::npos)
      << r.err;
}

#ifdef STRATA_ANALYSIS_PATH
// Proves strata_analysis --out DIR --overwrite, DIR a folder, stops before the pass with one line
// naming the rule (before: a filesystem error after the whole pass), and --out over an existing
// file without --overwrite is refused the same way.
TEST_F(ProgressAndOutputs, AnalysisOutFolderIsRefusedFirst) {
  ASSERT_EQ(run_command(strata_cli + " gen " + path("d.strata") + " --size 1M").exit_code, 0);
  fs::create_directories(path("results"));
  auto r = run_command(std::string(STRATA_ANALYSIS_PATH) + " " + path("d.strata") + " --out " +
                       path("results") + " --overwrite");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "") << "the pass ran before the refusal";
  EXPECT_EQ(r.err,
            "strata_analysis: error: invalid_argument: the output is a folder, not a "
            "regular file; name a file to write (file=" +
                path("results") + ")\n");
  std::ofstream(path("r.h5")) << "x";
  r = run_command(std::string(STRATA_ANALYSIS_PATH) + " " + path("d.strata") + " --out " +
                  path("r.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the output exists (a file); pass --overwrite to replace it"),
            std::string::npos)
      << r.err;
}
#endif

}  // namespace
