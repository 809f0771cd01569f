// SPDX-License-Identifier: Apache-2.0
// Tests of how the command starts: a directly started command is rank 0 of 1 without MPI
// (STRATA_MPI=always starts it), and under an address-space limit (`ulimit -v`) every command
// either works or says in one line that memory ran out — Open MPI's singleton crashed there.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/scratch_folder.hpp"
#include "run_command.hpp"

namespace {

using nlohmann::json;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

// The launcher variables a test run might inherit, cleared so the command counts as started
// directly.
const std::string direct =
    "env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u PMI_SIZE "
    "-u SLURM_STEP_ID -u SLURM_STEPID -u STRATA_MPI ";

class Start : public strata::test::ScratchFolderTest {
 protected:
  Start() : ScratchFolderTest("strata-cli-start") {}
};

// Proves a directly started command does not start MPI (rank 0 of 1, "started": false) and that
// STRATA_MPI=always makes it an MPI singleton; fails if a plain run pays for MPI's start-up again.
TEST_F(Start, MpiStartsOnlyUnderALauncherOrWhenAsked) {
  auto r = run_command(direct + strata_cli + " info --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json mpi = json::parse(r.out)["ranks"][0]["mpi"];
  EXPECT_EQ(mpi["started"], false);
  EXPECT_EQ(mpi["rank"], 0);
  EXPECT_EQ(mpi["size"], 1);

  r = run_command(direct +
                  "STRATA_MPI=always OMPI_ALLOW_RUN_AS_ROOT=1 "
                  "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                  strata_cli + " info --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  mpi = json::parse(r.out)["ranks"][0]["mpi"];
  EXPECT_EQ(mpi["started"], true);
  EXPECT_EQ(mpi["size"], 1);

  r = run_command(direct + "STRATA_MPI=maybe " + strata_cli + " info");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("variable=STRATA_MPI"), std::string::npos) << r.err;
}

// Proves `strata stats` under `ulimit -v 100000` gives the result (Open MPI's singleton died there
// with SIGSEGV and a 40-line report), and that at tighter limits, where the libraries, the
// executor's thread pool or the file mapping fail, every run fails with one line below exit 128:
// an allocation failure named as memory with the limit, never std::bad_alloc's bare name or a
// signal or a hang (--quiet: a progress line may precede the error when the workers stall).
// (Between about 50000 and 90000 KiB oneTBB cannot start the executor's worker
// threads at some limits: stats waited for them forever, killed here after 60 s; now the caller
// stops waiting after a second without a worker and the run ends with a result or oneTBB's line.)
TEST_F(Start, AddressSpaceLimitIsAResultOrOneLine) {
  ASSERT_EQ(run_command(strata_cli + " gen " + path("one.strata") + " --size 1M").exit_code, 0);
  const auto stats_under = [&](int kib) {
    return run_command(direct + "timeout -s KILL 60 sh -c 'ulimit -v " + std::to_string(kib) +
                       " && exec " + strata_cli + " stats --quiet --json " + path("one.strata") +
                       "'");
  };
  auto r = stats_under(100000);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["count"], 131072);
  for (int kib = 20000; kib <= 90000; kib += 5000) {
    r = stats_under(kib);
    EXPECT_LT(r.exit_code, 128) << kib << " KiB: " << r.err;  // 137: killed by the timeout
    if (r.exit_code == 0) continue;
    EXPECT_EQ(count_lines(r.err), 1) << kib << " KiB: " << r.err;
    EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos) << kib << " KiB: " << r.err;
    if (r.err.find("out of memory") != std::string::npos) {
      EXPECT_NE(r.err.find("address_space_limit_bytes=" + std::to_string(kib * 1024)),
                std::string::npos)
          << r.err;
    }
  }
}

}  // namespace
