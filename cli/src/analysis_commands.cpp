// SPDX-License-Identifier: Apache-2.0
// `strata stats` and `strata hist`: open the dataset, take this rank's partition, reduce it on the
// Executor with the SIMD kernels in one pass that verifies each checksum chunk in the thread that
// reads it, merge across ranks, print on rank 0 (text or --json) with the command's wall time and
// its phases. `stats --hist BINS --range LO HI` computes the statistics and the histogram in that
// same one pass (strata::combine); `hist` without --range first finds the data's min and max.
#include "analysis_commands.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>

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
  bool quiet = false;
  std::string memory = "auto";  // --memory, checked before any work
  io::DataMemory data_memory = io::DataMemory::automatic;
};

// A member of the pass that adds nothing to its result: it counts every chunk's bytes into the
// command's Progress, in the worker that read the chunk.
template <class T>
struct CountProgress {
  Progress* progress = nullptr;
  void add(std::span<const T> chunk) {
    if (progress != nullptr) progress->add(chunk.size_bytes());
  }
  void merge(const CountProgress&) {}
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

// The range numpy.histogram picks when none is given: [min, max] of the data, widened to
// [min - 0.5, max + 0.5] when every value is the same. No values, or an infinite one, leave no
// range to pick.
std::pair<double, double> data_range(const kernels::StatsSummary& s, const std::string& dataset) {
  if (!s.min || !s.max) {
    throw Error(ErrorCategory::invalid_argument,
                "hist: no values to take a range from (" + std::to_string(s.nan_count) +
                    " NaN); give --range LO HI",
                {{"file", dataset}});
  }
  if (!std::isfinite(*s.min) || !std::isfinite(*s.max)) {
    throw Error(ErrorCategory::invalid_argument,
                "hist: the data holds infinities, so its range [min, max] is not finite; give "
                "--range LO HI",
                {{"file", dataset}});
  }
  if (*s.min == *s.max) return {*s.min - 0.5, *s.max + 0.5};
  return {*s.min, *s.max};
}

// Wall-clock time of one command on this rank: from the start of the command (runtime start-up
// included) and, phase by phase, from the end of the previous phase.
class Timing {
 public:
  // Adds the time since the previous mark (or the start) to `phase`.
  void mark(const std::string& phase) {
    const auto now = clock::now();
    phases_[phase] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  // The wall time and every phase as the slowest rank's, in seconds: wall_seconds and phases.
  // With one rank the phases add up to at most the wall time; with several, each phase is its
  // own slowest rank's, so their sum may exceed it.
  json slowest_rank(const Runtime& rt) const {
    json phases = json::object();
    for (const auto& [name, seconds] : phases_) phases[name] = rt.mpi().allreduce_max(seconds);
    const double wall = std::chrono::duration<double>(clock::now() - start_).count();
    return {{"wall_seconds", rt.mpi().allreduce_max(wall)}, {"phases", phases}};
  }

 private:
  using clock = std::chrono::steady_clock;
  clock::time_point start_ = clock::now();
  clock::time_point last_ = start_;
  std::map<std::string, double> phases_;  // the same names on every rank, in the same order
};

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

json memory_json(const io::DataMemoryReport& r) {
  return {{"mode", std::string(io::to_string(r.memory))},
          {"automatic", r.automatic},
          {"reason", r.reason},
          {"pages", r.pages},
          {"huge_page_bytes", r.huge_bytes},
          {"backing", r.backing},
          {"fallbacks", r.fallbacks},
          {"placement_applied", r.placement_applied},
          {"node_bytes", r.node_bytes},
          {"load_seconds", r.load_seconds}};
}

json describe_run(const Runtime& rt, const Executor& ex, const io::Dataset& ds, std::uint64_t bytes,
                  const Timing& timing) {
  std::vector<std::uint64_t> shape(ds.shape().begin(), ds.shape().end());
  json run = {{"dataset", ds.file() + ":" + ds.name()},
              {"dtype", to_string(ds.dtype())},
              {"shape", shape},
              {"ranks", rt.size()},
              {"threads_per_rank", ex.threads()},
              {"bytes", bytes}};
  run.update(timing.slowest_rank(rt));
  // Over the compute pass alone (read, verify and reduce the open data): not what the command
  // took, which wall_seconds says.
  const double compute = run["phases"]["compute"].get<double>();
  run["compute_gbps"] = compute > 0 ? static_cast<double>(bytes) / compute / 1e9 : 0.0;
  return run;
}

// Opens the dataset, takes this rank's partition, reduces it with reduce<T>(ex, part,
// make_accumulator(rt, ex, part, T{}), merges across ranks and returns the merged result and the
// run's description, its timing phases included: startup (runtime and threads), open (for HDF5
// that reads and decompresses the whole dataset), compute (the verified reduction pass), merge
// (across ranks), and whatever phases make_accumulator marks on the Timing (hist's range pass).
// Rank 0 shows the progress of its own read and pass on stderr (ProgressReport), unless quiet;
// make_accumulator may count a pass of its own into the same Progress.
template <class MakeAccumulator>
auto analyse_on(Runtime& rt, const AnalysisOptions& o, Timing& timing,
                MakeAccumulator& make_accumulator) {
  Executor ex(rt, {.threads = o.threads});
  timing.mark("startup");
  auto ds = io::Dataset::open(o.dataset);
  Progress progress;
  ProgressReport report(printable(o.dataset), progress, {.enabled = !o.quiet, .rank = rt.rank()});
  auto part = ds.partition(rt.rank(), rt.size(), &progress);  // HDF5: read and decompressed here
  timing.mark("open");
  // Resident and node-shared read and verify the rows here; mapped verifies them in the pass.
  const io::PartitionData data = io::load(rt, ex, part, {.memory = o.data_memory});
  timing.mark("load");
  using Result = decltype(make_accumulator(rt, ex, data, 0.0, progress));
  Result local = visit_kernel_dtype(part.dtype(), [&]<class T>(T t) {
    auto empty = make_accumulator(rt, ex, data, t, progress);
    progress.add_total(part.size_bytes());
    auto result = reduce<T>(ex, data, combine(std::move(empty), CountProgress<T>{&progress}));
    timing.mark("compute");
    return std::move(result).template get<0>();
  });
  report.finish();
  Result merged = rt.allreduce(local);
  timing.mark("merge");
  std::uint64_t bytes = rt.mpi().allreduce_sum(part.size_bytes());
  json run = describe_run(rt, ex, ds, bytes, timing);
  run["memory"] = memory_json(data.report());  // rank 0's; the choice is the same on every rank
  run["print"] = rt.rank() == 0;
  return std::pair<Result, json>{std::move(merged), run};
}

// Runs analyse_on in the job's Runtime through strata::run_main: an error on any rank is one line
// naming it (and the rank, with several), then every rank ends; it reaches main as the exit code
// alone (CLI::RuntimeError), already reported.
template <class MakeAccumulator>
auto analyse(const AnalysisOptions& o, Timing& timing, MakeAccumulator make_accumulator) {
  using Outcome = decltype(analyse_on(std::declval<Runtime&>(), o, timing, make_accumulator));
  std::optional<Outcome> outcome;
  // No stop-signal handlers: a read-only analysis has nothing to save, so SIGTERM (scancel, a
  // Slurm time limit) and SIGUSR1 keep their default action and end it at once.
  // No memory-pressure watcher either: the command holds no pools or caches worth trimming, and
  // its thread would take address space an `ulimit -v` job needs for the executor's workers.
  const int code =
      run_main({.install_stop_signals = false, .watch_memory_pressure = false}, [&](Runtime& rt) {
        outcome.emplace(analyse_on(rt, o, timing, make_accumulator));
        return 0;
      });
  if (code != 0) throw CLI::RuntimeError(code);
  return std::move(*outcome);
}

// "0.0099 s", "2.48 s": three significant digits.
std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g s", s);
  return text;
}

// The run line of the text output: bytes, the command's wall time, then each phase with the
// compute pass's bandwidth, ranks and threads.
std::string run_text(const json& run) {
  std::string out = "  " + format_bytes(run["bytes"].get<std::uint64_t>()) + ", " +
                    seconds_text(run["wall_seconds"].get<double>()) + " wall (";
  const json& phases = run["phases"];
  std::string sep;
  for (const char* name : {"startup", "open", "load", "range", "compute", "merge"}) {
    if (!phases.contains(name)) continue;
    out += sep + name + " " + seconds_text(phases[name].get<double>());
    if (std::string(name) == "compute") {
      char rate[32];
      std::snprintf(rate, sizeof rate, " at %.3g GB/s", run["compute_gbps"].get<double>());
      out += rate;
    }
    sep = ", ";
  }
  out += ") on " + std::to_string(run["ranks"].get<int>()) + " rank(s) x " +
         std::to_string(run["threads_per_rank"].get<unsigned>()) + " threads\n";
  const json& m = run["memory"];
  out += "  memory " + m["mode"].get<std::string>() + " (" + m["reason"].get<std::string>() +
         "), pages " + m["pages"].get<std::string>();
  if (!m["backing"].get<std::string>().empty()) out += ", " + m["backing"].get<std::string>();
  return out + "\n";
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
    const AnalysisOptions& o, Timing& timing) {
  if (!o.with_histogram) {
    auto [s, run] = analyse(o, timing, [](auto&&...) { return kernels::Stats{}; });
    return {s, std::nullopt, run};
  }
  const kernels::Histogram empty = empty_histogram(o);
  auto [both, run] =
      analyse(o, timing, [&empty](auto&&...) { return combine(kernels::Stats{}, empty); });
  return {both.get<0>(), std::move(both.get<1>()), run};
}

void run_stats(const AnalysisOptions& o) {
  Timing timing;
  auto [s, h, run] = stats_pass(o, timing);
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
  std::cout << stats_text(printable(run["dataset"].get<std::string>()), summary) << run_text(run);
  if (h) {
    std::cout << "  histogram, same pass: " << h->bins() << " bins over [" << h->low() << ", "
              << h->high() << ")\n";
    print_histogram(*h);
  }
}

void run_hist(const AnalysisOptions& o) {
  Timing timing;
  const bool given_range = !o.range.empty();
  std::optional<kernels::Histogram> given;
  if (given_range) given = empty_histogram(o);  // validates before any work
  auto [h, run] = analyse(
      o, timing,
      [&]<class T>(Runtime& rt, Executor& ex, const io::PartitionData& data, T,
          Progress& progress) {
        if (given) return *given;
        // numpy.histogram's range: a first pass for min and max, merged across ranks. Its last
        // bin is closed, as NumPy's: the maximum counts in it.
        progress.add_total(data.partition().size_bytes());
        const kernels::Stats local =
            reduce<T>(ex, data, combine(kernels::Stats{}, CountProgress<T>{&progress}))
                .template get<0>();
        const auto [low, high] = data_range(rt.allreduce(local).summary(), o.dataset);
        timing.mark("range");
        return kernels::Histogram(low, high, o.bins, kernels::HighEdge::last_bin);
      });
  if (!run["print"].get<bool>()) return;
  run.erase("print");
  json j = histogram_json(h);
  j["run"] = run;
  if (o.json) {
    std::cout << json_text(j) << '\n';
    return;
  }
  const bool closed = h.high_edge() == kernels::HighEdge::last_bin;
  std::cout << printable(run["dataset"].get<std::string>()) << ": " << h.bins() << " bins over ["
            << h.low() << ", " << h.high() << (closed ? "]" : ")")
            << (given_range ? "" : " (the data's min and max)") << "\n";
  print_histogram(h);
  std::cout << run_text(run);
}

}  // namespace

void add_analysis_commands(CLI::App& app) {
  auto stats = std::make_shared<AnalysisOptions>();
  CLI::App* s = app.add_subcommand(
      "stats",
      "Count, sum, min, max, mean and variance of a dataset array (--hist: and its histogram)");
  s->add_option("dataset", stats->dataset, "FILE.strata[:array] or FILE.h5:/path")->required();
  s->add_flag("--json", stats->json, "Print JSON");
  s->add_option(
       "--memory", stats->memory,
       "Where the rows live: auto (default: mapped, or node-shared when a node's ranks read the "
       "same rows), "
       "mapped, resident (huge pages on each NUMA node) or node-shared (one copy per node)")
      ->type_name("MODE");
  s->add_option("--threads", stats->threads, "Threads per rank (0: STRATA_THREADS or all allowed CPUs)");
  add_quiet_flag(s, stats->quiet);
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
    stats->data_memory = io::parse_data_memory(stats->memory);
    run_stats(*stats);
  });

  auto hist = std::make_shared<AnalysisOptions>();
  CLI::App* h = app.add_subcommand("hist", "Histogram of a dataset array with uniform bins");
  h->footer(
      "Every bin is half-open [lo, hi), the last one too: a value equal to HI counts as overflow.\n"
      "NumPy's histogram closes its last bin instead; --include-high gives NumPy's rule.\n"
      "Without --range, the range is the data's [min, max] as numpy.histogram takes it (a first\n"
      "pass over the data; [v - 0.5, v + 0.5] when every value is v), with the last bin closed.\n"
      "Data with no values, only NaNs, or infinities has no such range: give --range.");
  h->add_option("dataset", hist->dataset, "FILE.strata[:array] or FILE.h5:/path")->required();
  h->add_option("--bins", hist->bins, "Number of bins")
      ->capture_default_str()
      ->check(whole_number_at_least(1));
  // Exactly two values, wherever the positional dataset comes: `--range 0 100 data.strata`.
  h->add_option("--range", hist->range, "LO HI (or LO,HI); default: the data's min and max")
      ->expected(2)
      ->allow_extra_args(false)
      ->delimiter(',');
  h->add_flag("--include-high", hist->include_high,
              "Count a value equal to HI in the last bin (NumPy's rule), not as overflow");
  h->add_flag("--json", hist->json, "Print JSON");
  h->add_option(
       "--memory", hist->memory,
       "Where the rows live: auto (default: mapped, or node-shared when a node's ranks read the "
       "same rows), "
       "mapped, resident (huge pages on each NUMA node) or node-shared (one copy per node)")
      ->type_name("MODE");
  h->add_option("--threads", hist->threads, "Threads per rank (0: STRATA_THREADS or all allowed CPUs)");
  add_quiet_flag(h, hist->quiet);
  h->callback([hist] {
    hist->data_memory = io::parse_data_memory(hist->memory);
    run_hist(*hist);
  });
}

}  // namespace strata::cli
