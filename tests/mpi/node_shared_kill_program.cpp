// SPDX-License-Identifier: Apache-2.0
// A 2-rank job that loads a dataset node-shared, prints the segment's path, and has rank 1 kill
// itself with SIGKILL (no destructor, no handler runs): expect_node_shared_released.cmake then
// checks the job failed and left nothing in /dev/shm. With argument "normal" every rank ends
// cleanly instead. With "hold DIR" (tests/cluster, any rank count over several nodes) the dataset
// is written in DIR (a folder every node sees), every rank prints its pid and host with the
// segment and then holds its mapping until DIR/release exists (or 60 s pass: exit 4), so a test
// can look at the ranks' mappings while the job runs and kill one of them; then it ends cleanly.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "strata/strata.hpp"

namespace {

// Waits for `file` to exist; false after 60 s.
bool wait_for_file(const std::filesystem::path& file) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(file)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "kill";
  const bool hold = mode == "hold" && argc > 2;
  const bool normal = mode == "normal" || hold;
  strata::Runtime rt(argc, argv, {.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 1});
  const std::filesystem::path folder =
      hold ? std::filesystem::path(argv[2]) : std::filesystem::temp_directory_path();
  const std::string path =
      (folder / ("strata-node-shared-" + std::string(normal ? "normal" : "kill") + ".strata"))
          .string();
  if (rt.rank() == 0) {
    std::vector<double> v(1 << 18);
    std::iota(v.begin(), v.end(), 0.5);
    strata::io::StrataWriter w(path + ".tmp", {{"v", strata::DType::f64, {v.size()}, 65536}});
    w.append(0, std::as_bytes(std::span(v)));
    w.finish();
    std::filesystem::rename(path + ".tmp", path);
  }
  rt.mpi().barrier();
  auto ds = strata::io::Dataset::open(path);
  auto part = ds.partition(rt.rank(), rt.size());
  auto data = strata::io::load(rt, ex, part, {.memory = strata::io::DataMemory::node_shared});
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::printf("rank %d pid %d host %s segment %s pages %s\n", rt.rank(),
              static_cast<int>(::getpid()), host, data.report().backing.c_str(),
              data.report().pages.c_str());
  std::fflush(stdout);
  rt.mpi().barrier();
  if (hold && !wait_for_file(folder / "release")) return 4;
  // The killed job never reaches its cleanup: the file goes now (its mapping keeps it readable).
  if (!normal && rt.rank() == 0) std::filesystem::remove(path);
  if (!normal && rt.rank() == 1) ::raise(SIGKILL);
  if (normal) {
    auto s = strata::reduce<double>(ex, data, strata::kernels::Stats{});
    s = rt.allreduce(s);
    if (s.summary().count != ds.rows()) return 3;
    rt.mpi().barrier();
    if (rt.rank() == 0) std::filesystem::remove(path);
    return 0;
  }
  ::sleep(30);  // rank 0 waits to be ended by mpirun
  return 0;
}
