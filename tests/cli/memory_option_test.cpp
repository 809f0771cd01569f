// SPDX-License-Identifier: Apache-2.0
// Tests of `--memory` on `strata stats` and `hist` as a user runs them: every mode prints the
// statistics of the mapped pass, the JSON and the text name the mode and the pages got, a bad
// value is one line, and node-shared on 2 ranks leaves nothing in /dev/shm.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "run_command.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("strata-cli-mem-" + std::to_string(getpid()) + "-" + name))
      .string();
}

std::set<std::string> shm_segments() {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator("/dev/shm")) {
    if (e.path().filename().string().rfind("strata-", 0) == 0) out.insert(e.path().string());
  }
  return out;
}

// The segments present now that were not in `before`, once those of tests running alongside
// (which live for moments: their names go once their ranks attach) have had up to 10 s to go. A
// segment this test's commands left behind stays, whatever the wait.
std::set<std::string> segments_left(const std::set<std::string>& before) {
  std::set<std::string> left;
  for (int i = 0; i < 100; ++i) {
    left.clear();
    for (const std::string& s : shm_segments()) {
      if (!before.contains(s)) left.insert(s);
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return left;
}

// Proves stats gives the same numbers with every --memory mode, alone and node-shared on 2 ranks,
// that the JSON names the mode and the pages, the text says it in one line, and that no segment
// is left in /dev/shm.
TEST(MemoryOption, EveryModePrintsTheSameStatistics) {
  const std::string file = temp("m.strata");
  ASSERT_EQ(
      run_command(strata_cli + " gen " + file + " --size 4M --kind normal --seed 5 --chunk 64K")
          .exit_code,
      0);
  const auto before = shm_segments();
  auto mapped = run_command(strata_cli + " stats --json --memory mapped " + file);
  ASSERT_EQ(mapped.exit_code, 0) << mapped.err;
  json want = json::parse(mapped.out);
  EXPECT_EQ(want["run"]["memory"]["mode"], "mapped");
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                             std::string(STRATA_MPIEXEC) + " -np 2 --oversubscribe ";
  for (const std::string& mode : {"resident", "node-shared", "auto"}) {
    auto r = run_command(strata_cli + " stats --json --memory " + mode + " " + file);
    ASSERT_EQ(r.exit_code, 0) << mode << r.err;
    json got = json::parse(r.out);
    for (const char* key : {"count", "sum", "min", "max", "mean", "variance"}) {
      EXPECT_EQ(got[key], want[key]) << mode << ' ' << key;
    }
    const json& m = got["run"]["memory"];
    if (mode != std::string("auto")) EXPECT_EQ(m["mode"], mode);
    EXPECT_EQ(m["automatic"], mode == std::string("auto"));
    EXPECT_FALSE(m["pages"].get<std::string>().empty());
  }
  auto shared2 = run_command(mpirun + strata_cli + " stats --json --memory node-shared " + file);
  ASSERT_EQ(shared2.exit_code, 0) << shared2.err;
  json got2 = json::parse(shared2.out);
  EXPECT_EQ(got2["count"], want["count"]);
  EXPECT_EQ(got2["run"]["memory"]["mode"], "node-shared");
  EXPECT_NE(got2["run"]["memory"]["backing"].get<std::string>().find("/dev/shm/strata-"),
            std::string::npos);
  auto text = run_command(strata_cli + " hist --memory resident --bins 4 " + file);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("  memory resident (--memory resident), pages "), std::string::npos)
      << text.out;
  const std::set<std::string> left = segments_left(before);
  EXPECT_TRUE(left.empty()) << "left in /dev/shm: " << (left.empty() ? "" : *left.begin());
  fs::remove(file);
}

// Proves a bad --memory value is refused with one line naming the choices, before any work.
TEST(MemoryOption, BadValueIsOneLine) {
  auto r = run_command(strata_cli + " stats --memory fast " + temp("absent.strata"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("node-shared"), std::string::npos) << r.err;
}

}  // namespace
