// SPDX-License-Identifier: Apache-2.0
// Tests that a read-only analysis command (`strata stats`, `strata hist`) keeps the default action
// of SIGTERM and SIGUSR1: scancel or a Slurm time limit ends it at once, instead of a stop handler
// recording the signal for a checkpoint the command never takes while it reads on to the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/scratch_folder.hpp"
#include "common/unwritten_hdf5.hpp"

namespace {

namespace fs = std::filesystem;

const std::string strata_cli = STRATA_CLI_PATH;

class AnalysisSignals : public strata::test::ScratchFolderTest {
 protected:
  AnalysisSignals() : ScratchFolderTest("strata-cli-analysis-signals") {}

  // True once process `pid` holds `file` open (so its Runtime exists: datasets open after it).
  static bool holds_open(pid_t pid, const fs::path& file) {
    std::error_code ec;
    for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
      if (fs::read_symlink(fd.path(), ec) == file) return true;
    }
    return false;
  }

  // The SigCgt mask of `pid`: the signals it has handlers for.
  static unsigned long long caught_signals(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("SigCgt:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
    }
    return 0;
  }
};

// Proves `strata stats` on a dataset it is still reading has no SIGTERM or SIGUSR1 handler and dies
// of SIGTERM; fails if the analysis commands install the stop-signal handlers again (SIGTERM was
// then swallowed and the command read on until Slurm's SIGKILL).
TEST_F(AnalysisSignals, StatsDiesOfSigterm) {
  const fs::path h5 = path("big.h5");
  strata::test::write_unwritten_hdf5(h5.string(), "/x", hsize_t{1} << 26);  // 512 MiB to fill
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    const std::string dataset = h5.string() + ":/x";
    std::vector<char*> argv{const_cast<char*>(strata_cli.c_str()), const_cast<char*>("stats"),
                            const_cast<char*>(dataset.c_str()), nullptr};
    ::execv(strata_cli.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  bool open = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!open && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    open = holds_open(pid, h5);
    if (!open) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (!open) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    GTEST_SKIP() << "stats ended (or never opened the file) before it could be observed";
  }
  const unsigned long long caught = caught_signals(pid);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(caught & (1ULL << (SIGTERM - 1)), 0u) << "SigCgt " << std::hex << caught;
  EXPECT_EQ(caught & (1ULL << (SIGUSR1 - 1)), 0u) << "SigCgt " << std::hex << caught;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
}

}  // namespace
