// SPDX-License-Identifier: Apache-2.0
// `strata stats` and `strata hist`: open the dataset, take this rank's partition, reduce it on the
// Executor with the SIMD kernels in one pass that verifies each checksum chunk in the thread that
// reads it, merge across ranks, print on rank 0 (text or --json). `stats --hist BINS --range LO
// HI` computes the statistics and the histogram in that same one pass (strata::combine).
#include "analysis_commands.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>

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
  bool include_high = false;  // hist: NumPy's rule, the top edge counts in the last bin
  unsigned threads = 0;
  bool with_histogram = false;  // stats --hist: the histogram of bins over range, same pass
};

// The empty histogram of o.bins over o.range, checked before any work.
kernels::Histogram empty_histogram(const AnalysisOptions& o) {
  if (o.range.size() != 2) {
    throw Error(ErrorCategory::invalid_argument, "--range needs LO HI");
  }
  return kernels::Histogram(
      o.range[0], o.range[1], o.bins,
      o.include_high ? kernels::HighEdge::last_bin : kernels::HighEdge::overflow);
}

json histogram_json(const kernels::Histogram& h) {
  std::vector<double> edges(h.bins() + 1);
  for (std::size_t i = 0; i <= h.bins(); ++i) edges[i] = h.edge(i);
  return {{"low", h.low()},
          {"high", h.high()},
          {"include_high", h.high_edge() == kernels::HighEdge::last_bin},
          {"edges", edges},
          {"counts", h.counts()},
          {"underflow", h.underflow()},
          {"overflow", h.overflow()},
          {"nan_count", h.nan_count()}};
}

// The bins as bars, then underflow, overflow and NaNs.
void print_histogram(const kernels::Histogram& h) {
  std::uint64_t peak = 1;
  for (auto c : h.counts()) peak = std::max(peak, c);
  for (std::size_t i = 0; i < h.bins(); ++i) {
    int bar =
        static_cast<int>(50.0 * static_cast<double>(h.counts()[i]) / static_cast<double>(peak));
    char edge[32];
    std::snprintf(edge, sizeof edge, "%12.6g", h.edge(i));
    std::cout << edge << " | " << std::string(bar, '#') << ' ' << h.counts()[i] << '\n';
  }
  std::cout << "  underflow " << h.underflow() << ", overflow " << h.overflow() << ", NaN "
            << h.nan_count() << '\n';
}

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
  // No stop-signal handlers: a read-only analysis has nothing to save, so SIGTERM (scancel, a
  // Slurm time limit) and SIGUSR1 keep their default action and end it at once.
  Runtime rt({.install_stop_signals = false});
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

// The statistics as `strata stats --json` prints them: null where no value exists (no values,
// or only NaNs); inf and NaN as json_text encodes them. Integer dtypes: min and max are exact
// JSON integers, `sum` too when it fits 64 bits, and `sum_exact` is the exact decimal string.
json stats_json(const kernels::StatsSummary& r) {
  auto value = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json j = {{"count", r.count},
            {"nan_count", r.nan_count},
            {"pos_inf_count", r.pos_inf_count},
            {"neg_inf_count", r.neg_inf_count},
            {"sum", r.sum},
            {"min", value(r.min)},
            {"max", value(r.max)},
            {"mean", value(r.mean)},
            {"variance", value(r.variance)},
            {"stddev", value(r.stddev)}};
  if (r.integer_sum) {
    j["min"] = *r.integer_min;
    j["max"] = *r.integer_max;
    j["sum_exact"] = kernels::to_decimal(*r.integer_sum);
    if (*r.integer_sum >= std::numeric_limits<std::int64_t>::min() &&
        *r.integer_sum <= std::numeric_limits<std::int64_t>::max()) {
      j["sum"] = static_cast<std::int64_t>(*r.integer_sum);
    }
  }
  return j;
}

// The statistics as text: 12 significant digits, "none" where no value exists, inf and nan as
// such; integer dtypes print their exact sum, min and max.
std::string stats_text(const std::string& name, const kernels::StatsSummary& r) {
  auto number = [](double x) {
    if (std::isnan(x)) return std::string("nan");  // never "-nan"
    char text[32];
    std::snprintf(text, sizeof text, "%.12g", x);
    return std::string(text);
  };
  auto value = [&](const std::optional<double>& v) { return v ? number(*v) : "none"; };
  std::string out =
      name + ": " + std::to_string(r.count) + " values (" + std::to_string(r.nan_count) + " NaN";
  if (r.pos_inf_count + r.neg_inf_count > 0) {
    out += ", " + std::to_string(r.pos_inf_count) + " +inf, " + std::to_string(r.neg_inf_count) +
           " -inf";
  }
  out += ")\n  mean " + value(r.mean) + "  stddev " + value(r.stddev) + "\n  min ";
  if (r.integer_sum) {
    out += std::to_string(*r.integer_min) + "  max " + std::to_string(*r.integer_max) + "  sum " +
           kernels::to_decimal(*r.integer_sum);
  } else {
    out += value(r.min) + "  max " + value(r.max) + "  sum " + number(r.sum);
  }
  return out + '\n';
}

// The statistics and, with --hist, the histogram: both from one pass.
std::tuple<kernels::Stats, std::optional<kernels::Histogram>, json> stats_pass(
    const AnalysisOptions& o) {
  if (!o.with_histogram) {
    auto [s, run] =
        analyse<kernels::Stats>(o, []<class T>(Executor& ex, const io::Partition& part, T) {
          return reduce<T>(ex, part, kernels::Stats{});
        });
    return {s, std::nullopt, run};
  }
  const kernels::Histogram empty = empty_histogram(o);
  auto [both, run] = analyse<Combined<kernels::Stats, kernels::Histogram>>(
      o, [&empty]<class T>(Executor& ex, const io::Partition& part, T) {
        return reduce<T>(ex, part, combine(kernels::Stats{}, empty));
      });
  return {both.get<0>(), std::move(both.get<1>()), run};
}

void run_stats(const AnalysisOptions& o) {
  auto [s, h, run] = stats_pass(o);
  if (!run["print"].get<bool>()) return;
  run.erase("print");
  const kernels::StatsSummary summary = s.summary();
  if (o.json) {
    json j = stats_json(summary);
    j["run"] = run;
    if (h) j["histogram"] = histogram_json(*h);
    std::cout << json_text(j) << '\n';
    return;
  }
  std::cout.precision(12);
  std::cout << stats_text(printable(run["dataset"].get<std::string>()), summary) << "  "
            << format_bytes(run["bytes"]) << " in " << run["seconds"].get<double>() << " s on "
            << run["ranks"] << " rank(s) x " << run["threads_per_rank"] << " threads\n";
  if (h) {
    std::cout << "  histogram, same pass: " << h->bins() << " bins over [" << h->low() << ", "
              << h->high() << ")\n";
    print_histogram(*h);
  }
}

void run_hist(const AnalysisOptions& o) {
  const kernels::Histogram empty = empty_histogram(o);  // validates before any work
  auto [h, run] =
      analyse<kernels::Histogram>(o, [&]<class T>(Executor& ex, const io::Partition& part, T) {
        return reduce<T>(ex, part, empty);
      });
  if (!run["print"].get<bool>()) return;
  run.erase("print");
  json j = histogram_json(h);
  j["run"] = run;
  if (o.json) {
    std::cout << json_text(j) << '\n';
    return;
  }
  std::cout << printable(run["dataset"].get<std::string>()) << ": " << h.bins() << " bins over ["
            << h.low() << ", " << h.high() << (o.include_high ? "]" : ")") << "\n";
  print_histogram(h);
}

}  // namespace

void add_analysis_commands(CLI::App& app) {
  auto stats = std::make_shared<AnalysisOptions>();
  CLI::App* s = app.add_subcommand(
      "stats",
      "Count, sum, min, max, mean and variance of a dataset array (--hist: and its histogram)");
  s->add_option("dataset", stats->dataset, "FILE.strata[:array] or FILE.h5:/path")->required();
  s->add_flag("--json", stats->json, "Print JSON");
  s->add_option("--threads", stats->threads, "Threads per rank (0: STRATA_THREADS or all allowed CPUs)");
  // The histogram in the same pass as the statistics: the data is read (and verified) once.
  CLI::Option* with_hist =
      s->add_option("--hist", stats->bins, "Also a histogram of BINS bins over --range, same pass")
          ->type_name("BINS");
  CLI::Option* stats_range = s->add_option("--range", stats->range, "LO HI (or LO,HI) for --hist")
                                 ->expected(2)
                                 ->allow_extra_args(false)
                                 ->delimiter(',');
  with_hist->needs(stats_range);
  stats_range->needs(with_hist);
  s->callback([stats, with_hist] {
    stats->with_histogram = with_hist->count() > 0;
    run_stats(*stats);
  });

  auto hist = std::make_shared<AnalysisOptions>();
  CLI::App* h = app.add_subcommand("hist", "Histogram of a dataset array with uniform bins");
  h->footer(
      "Every bin is half-open [lo, hi), the last one too: a value equal to HI counts as overflow.\n"
      "NumPy's histogram closes its last bin instead; --include-high gives NumPy's rule.");
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
  h->add_flag("--include-high", hist->include_high,
              "Count a value equal to HI in the last bin (NumPy's rule), not as overflow");
  h->add_flag("--json", hist->json, "Print JSON");
  h->add_option("--threads", hist->threads, "Threads per rank (0: STRATA_THREADS or all allowed CPUs)");
  h->callback([hist] { run_hist(*hist); });
}

}  // namespace strata::cli
