// SPDX-License-Identifier: Apache-2.0
// Tests of `strata info` and of the command line's error handling, run as a user would.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace {

using nlohmann::json;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

// The kernel's count of NUMA nodes, independent of hwloc.
std::size_t kernel_numa_nodes() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/sys/devices/system/node")) {
    std::string name = e.path().filename().string();
    if (name.rfind("node", 0) == 0 && name.size() > 4 && std::isdigit(name[4])) ++n;
  }
  return n == 0 ? 1 : n;
}

// Proves `strata info --json` is valid JSON naming this machine's NUMA nodes, as many as the
// kernel has, with this process as rank 0 of 1.
TEST(InfoCommand, JsonNamesNumaNodes) {
  auto r = run_command(strata_cli + " info --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out);
  ASSERT_EQ(report["ranks"].size(), 1u);
  const json& rank = report["ranks"][0];
  EXPECT_EQ(rank["mpi"]["rank"], 0);
  EXPECT_EQ(rank["mpi"]["size"], 1);
  EXPECT_EQ(rank["topology"]["numa_nodes"].size(), kernel_numa_nodes());
  EXPECT_GT(rank["topology"]["numa_nodes"][0]["memory_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_FALSE(rank["simd"]["dispatched"].get<std::string>().empty());
  EXPECT_TRUE(rank["topology"]["this_system"].get<bool>());
}

// Proves the text form reports the same topology in readable lines.
TEST(InfoCommand, TextNamesNodesAndSimdTarget) {
  auto r = run_command(strata_cli + " info");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NUMA node 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SIMD       dispatches to"), std::string::npos) << r.out;
}

// Proves a synthetic topology is reported with its node count and flagged as not this system.
TEST(InfoCommand, SyntheticTopology) {
  auto r = run_command(strata_cli + " info --json --synthetic 'pack:4 numa:1 core:2 pu:1'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json topo = json::parse(r.out)["ranks"][0]["topology"];
  EXPECT_EQ(topo["numa_nodes"].size(), 4u);
  EXPECT_FALSE(topo["this_system"].get<bool>());
  auto env = run_command("HWLOC_SYNTHETIC='pack:2 numa:1 core:1 pu:1' " + strata_cli + " info --json");
  ASSERT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(json::parse(env.out)["ranks"][0]["topology"]["numa_nodes"].size(), 2u);
}

// Proves a bad synthetic topology string, by option or by HWLOC_SYNTHETIC, is one clear line
// on stderr and a non-zero exit.
TEST(InfoCommand, BadSyntheticTopologyIsOneLine) {
  auto r = run_command(strata_cli + " info --synthetic 'pack:x'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("synthetic"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  auto env = run_command("HWLOC_SYNTHETIC='bogus' " + strata_cli + " info");
  EXPECT_NE(env.exit_code, 0);
  EXPECT_EQ(count_lines(env.err), 1) << env.err;
  EXPECT_NE(env.err.find("HWLOC_SYNTHETIC"), std::string::npos) << env.err;
}

// Proves an unknown subcommand or option is one line on stderr and exit code 2.
TEST(InfoCommand, UnknownSubcommandIsOneLine) {
  for (const char* args : {" frobnicate", " info --no-such-flag", ""}) {
    auto r = run_command(strata_cli + args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(count_lines(r.err), 1) << args << ": " << r.err;
  }
}

// Proves `--probe` allocates an array as a simulation would and reports what the kernel gave:
// every sampled page resident, the manager charging the bytes, a reason for each refused size.
TEST(InfoCommand, MemoryProbeReportsRealPages) {
  auto r = run_command(strata_cli + " info --json --probe 64M");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json probe = json::parse(r.out)["ranks"][0]["memory"]["probe"];
  EXPECT_EQ(probe["bytes"], 64u << 20);
  EXPECT_EQ(probe["resident_bytes"].get<std::uint64_t>(), 64u << 20);
  EXPECT_EQ(probe["residency"]["not_present"], 0);
  EXPECT_GE(probe["manager"]["nodes"][0]["bytes_in_use"].get<std::uint64_t>(), 64u << 20);
  std::string page = probe["page_size"];
  EXPECT_TRUE(page == "huge_2m" || page == "transparent" || page == "base") << page;
  EXPECT_EQ(probe["fallbacks"].size(), page == "huge_2m" ? 1u : page == "transparent" ? 2u : 3u);
  auto bad = run_command(strata_cli + " info --probe 12X");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
}

// Proves under `mpirun -np 2` rank 0 reports both ranks, each knowing its own rank.
TEST(InfoCommand, ReportsEveryRankUnderMpirun) {
  // Open MPI refuses root without these; the test sets them so the user need not.
  auto r = run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                       std::string(STRATA_MPIEXEC) + " -np 2 --oversubscribe " + strata_cli +
                       " info --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out);
  ASSERT_EQ(report["ranks"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(report["ranks"][i]["mpi"]["rank"], i);
    EXPECT_EQ(report["ranks"][i]["mpi"]["size"], 2);
    EXPECT_EQ(report["ranks"][i]["mpi"]["node_count"], 1);
  }
}

}  // namespace
