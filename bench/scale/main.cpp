// SPDX-License-Identifier: Apache-2.0
// strata_bench_scale's main(): an MPI program run by scripts/bench under mpirun at 1, 2, 4, 8 and
// 16 ranks. It times its own start-up (MPI_Init_thread, then the Runtime attached to it), makes
// the shared scratch folder, registers every case with the rank count in its name and runs them on
// all ranks in the same order; only rank 0 reports (the others get no console output and no
// --benchmark_out file, which every rank would otherwise truncate and write at once).
#include <benchmark/benchmark.h>
#include <mpi.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/file_system_name.hpp"
#include "scale_settings.hpp"

namespace strata::bench::scale {
namespace {

Runtime* the_runtime = nullptr;
Executor* the_executor = nullptr;
std::string the_scratch;

// Reports nothing: the ranks other than 0 run the same cases without a word.
class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

// argv without --benchmark_out=... and --benchmark_out_format=... (ranks other than 0).
std::vector<char*> without_output_flags(int argc, char** argv) {
  std::vector<char*> kept;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strncmp(argv[i], "--benchmark_out", 15) == 0) continue;
    kept.push_back(argv[i]);
  }
  kept.push_back(nullptr);
  return kept;
}

// Rank 0 makes the folder under $TMPDIR (else /tmp); every rank gets its path.
std::string make_scratch(Runtime& rt) {
  std::string path;
  if (rt.rank() == 0) {
    const char* dir = std::getenv("TMPDIR");
    path =
        std::string((dir != nullptr && *dir != '\0') ? dir : "/tmp") + "/strata_bench_scale.XXXXXX";
    if (::mkdtemp(path.data()) == nullptr) path.clear();
  }
  std::vector<std::byte> shared = rt.mpi().broadcast_bytes(std::as_bytes(std::span(path)), 0);
  path.assign(reinterpret_cast<const char*>(shared.data()), shared.size());
  if (path.empty())
    throw std::runtime_error("cannot create a scratch folder under $TMPDIR or /tmp");
  return path;
}

}  // namespace

Runtime& runtime() { return *the_runtime; }
Executor& executor() { return *the_executor; }
const std::string& scratch_folder() { return the_scratch; }

}  // namespace strata::bench::scale

int main(int argc, char** argv) {
  namespace scale = strata::bench::scale;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point entered = Clock::now();
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "strata_bench_scale: MPI_Init_thread failed\n");
    return 1;
  }
  const Clock::time_point mpi_ready = Clock::now();
  int status = 0;
  try {
    strata::RuntimeOptions options;
    options.install_stop_signals = false;
    strata::Runtime rt(argc, argv, options);
    const Clock::time_point runtime_ready = Clock::now();
    // The slowest rank's start-up, as the job waits for it.
    const double mpi_init_seconds =
        rt.mpi().allreduce_max(std::chrono::duration<double>(mpi_ready - entered).count());
    const double runtime_seconds =
        rt.mpi().allreduce_max(std::chrono::duration<double>(runtime_ready - entered).count());

    strata::ExecutorOptions executor_options;
    executor_options.threads = 1;
    strata::Executor ex(rt, executor_options);
    scale::the_runtime = &rt;
    scale::the_executor = &ex;
    scale::the_scratch = scale::make_scratch(rt);

    std::vector<char*> args = rt.rank() == 0 ? std::vector<char*>(argv, argv + argc + 1)
                                             : scale::without_output_flags(argc, argv);
    int args_count = static_cast<int>(args.size()) - 1;
    benchmark::Initialize(&args_count, args.data());
    if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) {
      rt.mpi().abort(2);
    }
    benchmark::AddCustomContext("scale_ranks", std::to_string(rt.size()));
    benchmark::AddCustomContext("scale_nodes", std::to_string(rt.mpi().node_count()));
    benchmark::AddCustomContext("scale_mpi", rt.mpi().library_version().substr(0, 40));
    benchmark::AddCustomContext(
        "scale_scratch_dir",
        scale::the_scratch + " (" + strata::bench::file_system_of(scale::the_scratch) + ")");

    scale::register_startup_cases(rt.size(), mpi_init_seconds, runtime_seconds);
    scale::register_merge_cases(rt.size());
    scale::register_checkpoint_cases(rt.size());
    if (rt.size() == 1) {
      scale::register_local_cases();
      scale::register_record_cases();
    }
    if (rt.rank() == 0) {
      benchmark::RunSpecifiedBenchmarks();
    } else {
      scale::SilentReporter silent;
      benchmark::RunSpecifiedBenchmarks(&silent);
    }
    benchmark::Shutdown();
    rt.mpi().barrier();
    if (rt.rank() == 0) {
      std::error_code ec;
      std::filesystem::remove_all(scale::the_scratch, ec);
    }
  } catch (const std::exception& e) {
    // One rank failing leaves the others waiting in a collective: end them all.
    std::fprintf(stderr, "strata_bench_scale: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    status = 1;
  }
  MPI_Finalize();
  return status;
}
