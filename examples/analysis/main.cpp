// SPDX-License-Identifier: Apache-2.0
// The analysis job: statistics, a histogram and a threshold count of one dataset array, computed
// in one verified pass (strata::combine) through the SIMD kernels on every core of every NUMA node
// of every rank, merged across ranks with MPI, printed as a table and written to HDF5. Written
// only against strata's public headers.
//
//   strata_analysis data.strata:values --bins 64 --range 0 100 --above 90 --out results.h5
//   mpirun -np 4 strata_analysis run.h5:/fields/energy
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <strata/strata.hpp>
#include <string>

namespace {

struct Options {
  std::string dataset;
  std::size_t bins = 64;
  std::vector<double> range{0.0, 100.0};
  double above = 90.0;
  std::string out;
  bool overwrite = false;
  std::string memory = "auto";  // auto, mapped, resident or node-shared (see --help)
};

using Clock = std::chrono::steady_clock;

int run(strata::Runtime& rt, const Options& o, Clock::time_point job_start) {
  // Wall-clock phases of this rank, each from the end of the previous one.
  auto last = Clock::now();
  auto lap = [&last] {
    const auto now = Clock::now();
    const double s = std::chrono::duration<double>(now - last).count();
    last = now;
    return s;
  };
  const double startup_s = std::chrono::duration<double>(last - job_start).count();
  strata::Executor ex(rt);
  // For HDF5, open reads (and decompresses) the whole dataset: often most of the job's time.
  auto ds = strata::io::Dataset::open(o.dataset);
  auto part = ds.partition(rt.rank(), rt.size());
  double open_s = lap();
  // Where the rows live for the pass: resident and node-shared read and verify them here.
  const auto data =
      strata::io::load(rt, ex, part, {.memory = strata::io::parse_data_memory(o.memory)});
  double load_s = lap();

  // One parallel pass over the mapped rows computes all three results: each thread verifies the
  // checksum chunks it reads, then statistics, histogram and count each add the chunk while it is
  // still in cache. The members merge as they would alone, so each has the bits of its own pass.
  const std::uint64_t my_bytes = part.size_bytes();
  strata::kernels::Stats stats;
  strata::kernels::Histogram histogram;
  std::uint64_t above = 0;
  double pass_s = 0, merge_s = 0;
  strata::visit_kernel_dtype(part.dtype(), [&]<class T>(T) {
    auto mine = strata::reduce<T>(
        ex, data,
        strata::combine(strata::kernels::Stats{},
                        strata::kernels::Histogram(o.range[0], o.range[1], o.bins),
                        strata::kernels::CountIf<T>(strata::kernels::Compare::greater,
                                                    static_cast<T>(o.above))));
    pass_s = lap();
    // Across ranks, member by member along the ranks' merge tree: every rank gets the same bits.
    auto [s, h, n] = rt.allreduce(mine);
    stats = s;
    histogram = std::move(h);
    above = n.count;
    merge_s = lap();
  });
  double wall_s = std::chrono::duration<double>(Clock::now() - job_start).count();
  // The job is as fast as its slowest rank: each time is the slowest rank's.
  for (double* t : {&wall_s, &open_s, &load_s, &pass_s, &merge_s}) {
    *t = rt.mpi().allreduce_max(*t);
  }
  const double startup_max_s = rt.mpi().allreduce_max(startup_s);
  const std::uint64_t bytes = rt.mpi().allreduce_sum(my_bytes);
  if (rt.rank() != 0) return 0;

  std::printf("dataset      %s (%s, %s)\n", o.dataset.c_str(), std::string(strata::to_string(ds.dtype())).c_str(),
              ds.shape().to_string().c_str());
  std::printf("ranks        %d, threads per rank %u, kernels on %s\n", rt.size(), ex.threads(),
              strata::kernels::simd_targets().dispatched.c_str());
  std::printf("memory       %s\n", data.report().summary().c_str());
  // "none" where no value exists (no values, or only NaNs); integer data prints exact integers.
  const strata::kernels::StatsSummary r = stats.summary();
  auto text = [](std::optional<double> v) {
    if (!v) return std::string("none");
    if (std::isnan(*v)) return std::string("nan");
    char out[32];
    std::snprintf(out, sizeof out, "%.12g", *v);
    return std::string(out);
  };
  std::printf("count        %llu (NaN %llu, +inf %llu, -inf %llu)\n",
              static_cast<unsigned long long>(r.count),
              static_cast<unsigned long long>(r.nan_count),
              static_cast<unsigned long long>(r.pos_inf_count),
              static_cast<unsigned long long>(r.neg_inf_count));
  std::printf("mean         %s\nstddev       %s\n", text(r.mean).c_str(), text(r.stddev).c_str());
  if (r.integer_sum) {
    std::printf("min          %lld\nmax          %lld\nsum          %s\n",
                static_cast<long long>(*r.integer_min), static_cast<long long>(*r.integer_max),
                strata::kernels::to_decimal(*r.integer_sum).c_str());
  } else {
    std::printf("min          %s\nmax          %s\nsum          %s\n", text(r.min).c_str(),
                text(r.max).c_str(), text(r.sum).c_str());
  }
  std::printf("above %-6g %llu\n", o.above, static_cast<unsigned long long>(above));
  std::printf("histogram    %zu bins over [%g, %g), underflow %llu, overflow %llu\n", histogram.bins(),
              histogram.low(), histogram.high(), static_cast<unsigned long long>(histogram.underflow()),
              static_cast<unsigned long long>(histogram.overflow()));
  std::uint64_t peak = 1;
  for (auto c : histogram.counts()) peak = std::max(peak, c);
  for (std::size_t i = 0; i < histogram.bins(); i += std::max<std::size_t>(1, histogram.bins() / 16)) {
    int bar = static_cast<int>(50.0 * static_cast<double>(histogram.counts()[i]) / static_cast<double>(peak));
    std::printf("  %10.4g | %-50s %llu\n", histogram.edge(i), std::string(bar, '#').c_str(),
                static_cast<unsigned long long>(histogram.counts()[i]));
  }
  auto gbps = [&](double s) { return s > 0 ? static_cast<double>(bytes) / s / 1e9 : 0.0; };
  // The wall time is what the job took; the phases say where it went (each the slowest rank's,
  // so with several ranks they may add up to more than the wall time).
  std::printf("wall time    %.3g s for %.2f GiB (%.3g GB/s over the whole job)\n", wall_s,
              static_cast<double>(bytes) / (1u << 30), gbps(wall_s));
  std::printf("  startup    %.3g s (MPI, runtime, threads)\n", startup_max_s);
  std::printf("  open       %.3g s (.strata: maps the file; HDF5: reads and decompresses all of it)\n",
              open_s);
  std::printf("  load       %.3g s (resident, node-shared: read and verify into memory)\n", load_s);
  std::printf("  compute    %.3g s (one pass: verify, statistics, histogram, count; %.3g GB/s)\n",
              pass_s, gbps(pass_s));
  std::printf("  merge      %.3g s (across ranks)\n", merge_s);

  if (!o.out.empty()) {
    if (o.overwrite) std::filesystem::remove(o.out);  // a regular file: checked before any work
    // NaN where no value exists: then count is 0 (a NaN with count > 0 is a result: the mean
    // of +inf and -inf).
    const double none = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> summary{static_cast<double>(r.count), r.sum,
                                r.min.value_or(none),         r.max.value_or(none),
                                r.mean.value_or(none),        r.variance.value_or(none),
                                static_cast<double>(above)};
    std::vector<double> edges(histogram.bins() + 1);
    for (std::size_t i = 0; i <= histogram.bins(); ++i) edges[i] = histogram.edge(i);
    strata::io::export_array(o.out, "/histogram/counts", strata::DType::u64, {histogram.bins()},
                             std::as_bytes(std::span(histogram.counts())));
    strata::io::export_array(o.out, "/histogram/edges", strata::DType::f64, {edges.size()},
                             std::as_bytes(std::span(edges)));
    strata::io::export_array(o.out, "/summary", strata::DType::f64, {summary.size()},
                             std::as_bytes(std::span(summary)));
    std::printf(
        "results      %s (/summary: count sum min max mean variance above, NaN for no value; "
        "/histogram)\n",
        o.out.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"strata analysis job: statistics, histogram and threshold count of a dataset"};
  app.add_option("dataset", o.dataset, "FILE.strata[:array] or FILE.h5:/path")->required();
  app.add_option("--bins", o.bins, "Histogram bins")->capture_default_str();
  app.add_option("--range", o.range, "Histogram range LO HI")
      ->expected(2)
      ->allow_extra_args(false)
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--above", o.above, "Count values above this")->capture_default_str();
  app.add_option("--out", o.out, "Write results to this HDF5 file (rank 0)");
  app.add_flag("--overwrite", o.overwrite, "Replace the --out file if it exists");
  app.add_option(
         "--memory", o.memory,
         "auto (mapped, or node-shared when a node's ranks share rows), mapped, resident or "
         "node-shared")
      ->capture_default_str();
  const auto job_start = Clock::now();
  CLI11_PARSE(app, argc, argv);
  try {
    (void)strata::io::parse_data_memory(o.memory);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_analysis: error: %s\n", e.what());
    return 2;
  }
  // An error on any rank is one line naming it, then every rank ends (strata::run_main).
  return strata::run_main(argc, argv, [&](strata::Runtime& rt) {
    if (!o.out.empty() && rt.rank() == 0) {
      // The rule every strata command applies, before any work: not the input, not a folder, an
      // existing file only with --overwrite, a folder that can be written. Rank 0 writes it, and
      // its error ends the other ranks.
      const std::string input = o.dataset.substr(0, o.dataset.rfind(':'));
      strata::io::check_output(o.out, {.kind = strata::io::OutputKind::hdf5,
                                       .overwrite = o.overwrite,
                                       .inputs = {o.dataset, input}});
    }
    return run(rt, o, job_start);
  });
}
