// SPDX-License-Identifier: Apache-2.0
// `strata stats` and `strata hist`: open the dataset, take this rank's partition, reduce it on the
// Executor with the SIMD kernels in one pass that verifies each checksum chunk in the thread that
// reads it, merge across ranks, print on rank 0 (text or --json).
#include "analysis_commands.hpp"

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "byte_size.hpp"
#include "command_rules.hpp"
#include "strata/runtime/base/text.hpp"
#include "strata/strata.hpp"

namespace strata::cli {
namespace {

using nlohmann::json;

struct AnalysisOptions {
  std::string dataset;
  bool json = false;
  std::size_t bins = 64;
  std::vector<double> range;
  unsigned threads = 0;
};

json describe_run(const Runtime& rt, const Executor& ex, const io::Dataset& ds, std::uint64_t bytes,
                  double seconds) {
  std::vector<std::uint64_t> shape(ds.shape().begin(), ds.shape().end());
  return {{"dataset", ds.file() + ":" + ds.name()},
          {"dtype", to_string(ds.dtype())},
          {"shape", shape},
          {"ranks", rt.size()},
          {"threads_per_rank", ex.threads()},
          {"bytes", bytes},
          {"seconds", seconds},
          {"bandwidth_gbps", seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0.0}};
}

// Runs reduce_part(ex, part, T{}) on this rank's partition, T its dtype, and returns the merged
// result with timing (which includes verification).
template <class Result, class Reduce>
std::pair<Result, json> analyse(const AnalysisOptions& o, Reduce reduce_part) {
  Runtime rt;
  Executor ex(rt, {.threads = o.threads});
  auto ds = io::Dataset::open(o.dataset);
  auto part = ds.partition(rt.rank(), rt.size());
  auto start = std::chrono::steady_clock::now();
  Result local =
      visit_kernel_dtype(part.dtype(), [&]<class T>(T t) { return reduce_part(ex, part, t); });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Result merged = rt.allreduce(local);
  seconds = rt.mpi().allreduce_max(seconds);
  std::uint64_t bytes = rt.mpi().allreduce_sum(part.size_bytes());
  json run = describe_run(rt, ex, ds, bytes, seconds);
  run["print"] = rt.rank() == 0;
  return {merged, run};
}

void run_stats(const AnalysisOptions& o) {
  auto [s, run] =
      analyse<kernels::Stats>(o, []<class T>(Executor& ex, const io::Partition& part, T) {
        return reduce<T>(ex, part, kernels::Stats{});
      });
  if (!run["print"].get<bool>()) return;
  run.erase("print");
  json j = {{"run", run},
            {"count", s.count},
            {"nan_count", s.nan_count},
            {"sum", s.sum},
            {"min", s.min},
            {"max", s.max},
            {"mean", s.mean},
            {"variance", s.variance()},
            {"stddev", s.stddev()}};
  if (o.json) {
    std::cout << json_text(j) << '\n';
    return;
  }
  std::cout.precision(12);
  std::cout << printable(run["dataset"].get<std::string>()) << ": " << s.count << " values ("
            << s.nan_count << " NaN)\n  mean " << s.mean << "  stddev " << s.stddev() << "\n  min "
            << s.min << "  max " << s.max << "  sum " << s.sum << "\n  "
            << format_bytes(run["bytes"]) << " in " << run["seconds"].get<double>() << " s on "
            << run["ranks"] << " rank(s) x " << run["threads_per_rank"] << " threads\n";
}

void run_hist(const AnalysisOptions& o) {
  if (o.range.size() != 2) {
    throw Error(ErrorCategory::invalid_argument, "--range needs LO HI");
  }
  kernels::Histogram empty(o.range[0], o.range[1], o.bins);  // validates before any work
  auto [h, run] =
      analyse<kernels::Histogram>(o, [&]<class T>(Executor& ex, const io::Partition& part, T) {
        return reduce<T>(ex, part, empty);
      });
  if (!run["print"].get<bool>()) return;
  run.erase("print");
  std::vector<double> edges(h.bins() + 1);
  for (std::size_t i = 0; i <= h.bins(); ++i) edges[i] = h.edge(i);
  json j = {{"run", run},
            {"low", h.low()},
            {"high", h.high()},
            {"edges", edges},
            {"counts", h.counts()},
            {"underflow", h.underflow()},
            {"overflow", h.overflow()},
            {"nan_count", h.nan_count()}};
  if (o.json) {
    std::cout << json_text(j) << '\n';
    return;
  }
  std::uint64_t peak = 1;
  for (auto c : h.counts()) peak = std::max(peak, c);
  std::cout << printable(run["dataset"].get<std::string>()) << ": " << h.bins() << " bins over ["
            << h.low() << ", " << h.high() << ")\n";
  for (std::size_t i = 0; i < h.bins(); ++i) {
    int bar = static_cast<int>(50.0 * static_cast<double>(h.counts()[i]) / static_cast<double>(peak));
    char edge[32];
    std::snprintf(edge, sizeof edge, "%12.6g", h.edge(i));
    std::cout << edge << " | " << std::string(bar, '#') << ' ' << h.counts()[i] << '\n';
  }
  std::cout << "  underflow " << h.underflow() << ", overflow " << h.overflow() << ", NaN "
            << h.nan_count() << '\n';
}

}  // namespace

void add_analysis_commands(CLI::App& app) {
  auto stats = std::make_shared<AnalysisOptions>();
  CLI::App* s = app.add_subcommand("stats", "Count, sum, min, max, mean and variance of a dataset array");
  s->add_option("dataset", stats->dataset, "FILE.strata[:array] or FILE.h5:/path")->required();
  s->add_flag("--json", stats->json, "Print JSON");
  s->add_option("--threads", stats->threads, "Threads per rank (0: STRATA_THREADS or all allowed CPUs)");
  s->callback([stats] { run_stats(*stats); });

  auto hist = std::make_shared<AnalysisOptions>();
  CLI::App* h = app.add_subcommand("hist", "Histogram of a dataset array with uniform bins");
  h->add_option("dataset", hist->dataset, "FILE.strata[:array] or FILE.h5:/path")->required();
  h->add_option("--bins", hist->bins, "Number of bins")
      ->capture_default_str()
      ->check(whole_number_at_least(1));
  // Exactly two values, wherever the positional dataset comes: `--range 0 100 data.strata`.
  h->add_option("--range", hist->range, "LO HI (or LO,HI)")
      ->expected(2)
      ->allow_extra_args(false)
      ->delimiter(',')
      ->required();
  h->add_flag("--json", hist->json, "Print JSON");
  h->add_option("--threads", hist->threads, "Threads per rank (0: STRATA_THREADS or all allowed CPUs)");
  h->callback([hist] { run_hist(*hist); });
}

}  // namespace strata::cli
