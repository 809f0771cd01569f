// SPDX-License-Identifier: Apache-2.0
// A 2-rank job that loads a dataset node-shared, prints the segment's path, and has rank 1 kill
// itself with SIGKILL (no destructor, no handler runs): expect_node_shared_released.cmake then
// checks the job failed and left nothing in /dev/shm. With argument "normal" every rank ends
// cleanly instead.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "strata/strata.hpp"

int main(int argc, char** argv) {
  const bool normal = argc > 1 && std::string(argv[1]) == "normal";
  strata::Runtime rt(argc, argv, {.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 1});
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("strata-node-shared-" + std::string(normal ? "normal" : "kill") + ".strata"))
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
  std::printf("rank %d segment %s pages %s\n", rt.rank(), data.report().backing.c_str(),
              data.report().pages.c_str());
  std::fflush(stdout);
  rt.mpi().barrier();
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
