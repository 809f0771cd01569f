// Tests of `strata gen`, `inspect` and `verify` as a user runs them: outputs, exit codes, and one
// clear stderr line on bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("strata-cli-ds-" + std::to_string(getpid()) + "-" + name)).string();
}

// Proves gen writes a file that inspect describes (array, size, metadata) and verify accepts.
TEST(DatasetCommands, GenInspectVerify) {
  auto g = run_command(strata_cli + " gen " + temp("a.strata") + " --size 3M --kind normal --seed 5 --chunk 64K");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  auto i = run_command(strata_cli + " inspect --json --verify " + temp("a.strata"));
  ASSERT_EQ(i.exit_code, 0) << i.err;
  json j = json::parse(i.out);
  ASSERT_EQ(j["arrays"].size(), 1u);
  EXPECT_EQ(j["arrays"][0]["name"], "values");
  EXPECT_EQ(j["arrays"][0]["shape"][0], (3u << 20) / 8);
  EXPECT_EQ(j["arrays"][0]["chunk_count"], 48);
  EXPECT_EQ(j["metadata"]["seed"], "5");
  EXPECT_EQ(j["checksums"], "verified");
  EXPECT_EQ(j["file_bytes"], fs::file_size(temp("a.strata")));
  auto v = run_command(strata_cli + " verify " + temp("a.strata"));
  EXPECT_EQ(v.exit_code, 0) << v.err;
  fs::remove(temp("a.strata"));
}

// Proves verify exits non-zero with one line naming the first bad chunk after a byte flips.
TEST(DatasetCommands, VerifyNamesTheBadChunk) {
  ASSERT_EQ(run_command(strata_cli + " gen " + temp("b.strata") + " --size 1M --chunk 64K").exit_code, 0);
  {
    std::fstream f(temp("b.strata"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((2 << 20) + 5 * 65536 + 99);  // data starts at 2 MiB: chunk 5
    char c = 0x55;
    f.write(&c, 1);
  }
  auto v = run_command(strata_cli + " verify " + temp("b.strata"));
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_EQ(count_lines(v.err), 1) << v.err;
  EXPECT_NE(v.err.find("chunk=5"), std::string::npos) << v.err;
  fs::remove(temp("b.strata"));
}

// Proves bad input to the dataset commands is one line on stderr and a non-zero exit: a file that
// is not .strata, a missing file, a bad size.
TEST(DatasetCommands, BadInputIsOneLine) {
  { std::ofstream(temp("junk")) << "this is not a strata file, just some text that is long enough\n"; }
  for (const std::string& args : {" inspect " + temp("junk"), " verify " + temp("missing.strata"),
                                  " gen " + temp("x.strata") + " --size 12Q",
                                  " gen " + temp("x.strata") + " --kind spiral"}) {
    auto r = run_command(strata_cli + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(count_lines(r.err), 1) << args << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(temp("x.strata")));
  fs::remove(temp("junk"));
}

}  // namespace
