// SPDX-License-Identifier: Apache-2.0
// Tests that every `strata` command that writes (gen, import, export, ckpt export) leaves nothing
// behind when SIGINT, SIGTERM or SIGHUP arrives mid-run, says so in one line, and dies of the
// signal; and that a SIGKILLed run's leftovers are removed by the next run writing there.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/scratch_folder.hpp"
#include "common/unwritten_hdf5.hpp"
#include "run_command.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::run_command;
using strata::test::slurp;

const std::string strata_cli = STRATA_CLI_PATH;

class InterruptedWrites : public strata::test::ScratchFolderTest {
 protected:
  InterruptedWrites() : ScratchFolderTest("strata-cli-interrupt") {}

  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename().string());
    return out;
  }

  bool has_unfinished_file() const {
    for (const auto& name : names()) {
      if (name.find(".tmp-") != std::string::npos) return true;
    }
    return false;
  }

  // Starts `args` (argv of strata), waits until its unfinished file appears in the folder, sends
  // `signal_number`, and returns its wait status; its stderr lands in err_.
  int interrupt(const std::vector<std::string>& args, int signal_number) {
    const std::string err_path = path("stderr.txt");
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(err, 2);
      ::dup2(null, 1);
      std::vector<char*> argv{const_cast<char*>(strata_cli.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(strata_cli.c_str(), argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int status = 0;
    bool seen = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (has_unfinished_file()) {
        seen = true;
        break;
      }
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        ADD_FAILURE() << "the command ended before it was interrupted: " << slurp(err_path);
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(seen) << "no unfinished file appeared";
    ::kill(pid, signal_number);
    ::waitpid(pid, &status, 0);
    err_ = slurp(err_path);
    fs::remove(err_path);
    return status;
  }

  // The command died of the signal, printed one line naming it, and left only `inputs`.
  void expect_clean_interrupt(int status, int signal_number, const std::string& command,
                              const std::set<std::string>& inputs) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == signal_number)
        << "status " << status << ": " << err_;
    const std::string line = "strata: " + command + " interrupted by SIG" +
                             sigabbrev_np(signal_number) + "; nothing was written\n";
    EXPECT_EQ(err_, line);
    EXPECT_EQ(names(), inputs);
  }

  std::string err_;
};

// Proves gen interrupted by SIGINT, SIGTERM and SIGHUP dies of that signal (exit 130/143/129 in a
// shell), says "interrupted ...; nothing was written", and leaves no file (before: a full-size
// hidden .x.strata.tmp-PID file and no message).
TEST_F(InterruptedWrites, GenLeavesNothing) {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) {
    const int status = interrupt({"gen", path("x.strata"), "--size", "2G"}, s);
    expect_clean_interrupt(status, s, "gen " + path("x.strata"), {});
  }
}

// Proves import interrupted by SIGINT and SIGTERM leaves only its HDF5 input.
TEST_F(InterruptedWrites, ImportLeavesNothing) {
  strata::test::write_unwritten_hdf5(path("in.h5"), "/x", hsize_t{1} << 29);  // 4 GiB to write
  for (int s : {SIGINT, SIGTERM}) {
    const int status = interrupt({"import", path("in.h5") + ":/x", path("out.strata")}, s);
    expect_clean_interrupt(status, s, "import " + path("out.strata"), {"in.h5"});
  }
}

// Proves export interrupted by SIGINT and SIGTERM leaves only its .strata input.
TEST_F(InterruptedWrites, ExportLeavesNothing) {
  strata::test::write_unwritten_hdf5(path("in.h5"), "/x", hsize_t{1} << 26);  // 512 MiB
  ASSERT_EQ(
      run_command(strata_cli + " import " + path("in.h5") + ":/x " + path("in.strata")).exit_code,
      0);
  fs::remove(path("in.h5"));
  for (int s : {SIGINT, SIGTERM}) {
    const int status = interrupt({"export", "--gzip", "1", path("in.strata"), path("out.h5")}, s);
    expect_clean_interrupt(status, s, "export " + path("out.h5"), {"in.strata"});
  }
}

// Proves ckpt export interrupted by SIGINT and SIGTERM leaves no file beside its output (before:
// a visible out.h5.part).
TEST_F(InterruptedWrites, CheckpointExportLeavesNothing) {
  const std::string ckpt = path("ckpt");
  {
    // MPI starts once per process: the Runtime lives until the test binary ends.
    static strata::Runtime rt({.install_stop_signals = false});
    strata::Executor ex(rt, {.threads = 1});
    // 16 regions of 32 MiB: the export writes for a while, one region in memory at a time.
    std::vector<std::vector<double>> regions(16, std::vector<double>(std::size_t{1} << 22, 1.5));
    strata::io::Checkpointer ck(rt, ex, {.dir = ckpt, .keep = 1});
    for (std::size_t i = 0; i < regions.size(); ++i) {
      ck.protect("r" + std::to_string(i), std::span(regions[i]),
                 {strata::Shape{regions[i].size()}, 0});
    }
    ck.save(1);
    ck.wait();
  }
  for (int s : {SIGINT, SIGTERM}) {
    const int status = interrupt({"ckpt", "export", ckpt, "--hdf5", path("out.h5")}, s);
    expect_clean_interrupt(status, s, "ckpt export " + path("out.h5"), {"ckpt"});
  }
}

// This host's tag in unfinished file names, computed here as the format says (FNV-1a of the host
// name, 8 hex digits), not by the code under test.
std::string host_tag() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::uint32_t h = 2166136261u;
  for (const char* p = host; *p != '\0'; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", h);
  return hex;
}

// Proves the next gen into a folder removes the unfinished file of a killed (dead) writer on this
// host, says so, and leaves alone those of a live process and of another host.
TEST_F(InterruptedWrites, NextRunRemovesAKilledRunsLeftovers) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string random = "0123456789abcdef";
  const std::string killed =
      ".x.strata.tmp-" + std::to_string(dead) + "-" + host_tag() + "-" + random;
  const std::string live =
      ".y.strata.tmp-" + std::to_string(getpid()) + "-" + host_tag() + "-" + random;
  const std::string other_host = ".z.strata.tmp-" + std::to_string(dead) + "-" +
                                 (host_tag() == "00000000" ? "11111111" : "00000000") + "-" +
                                 random;
  for (const auto& name : {killed, live, other_host}) std::ofstream(path(name)) << "partial";
  auto r = run_command(strata_cli + " gen " + path("x.strata") + " --size 1M");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("removed " + path(killed)), std::string::npos) << r.err;
  EXPECT_EQ(strata::test::count_lines(r.err), 1) << r.err;
  EXPECT_EQ(names(), (std::set<std::string>{"x.strata", live, other_host}));
}

}  // namespace
