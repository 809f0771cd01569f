// SPDX-License-Identifier: Apache-2.0
// Tests of `strata gen`, `inspect` and `verify` as a user runs them: outputs, exit codes, and one
// clear stderr line on bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "run_command.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/hdf5/hdf5.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using strata::test::count_lines;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("strata-cli-ds-" + std::to_string(getpid()) + "-" + name)).string();
}

// Proves gen writes a file that inspect describes (array, size, metadata) and verify accepts.
TEST(DatasetCommands, GenInspectVerify) {
  auto g = run_command(strata_cli + " gen " + temp("a.strata") + " --size 3M --kind normal --seed 5 --chunk 64K");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  auto i = run_command(strata_cli + " inspect --json --verify " + temp("a.strata"));
  ASSERT_EQ(i.exit_code, 0) << i.err;
  json j = json::parse(i.out);
  ASSERT_EQ(j["arrays"].size(), 1u);
  EXPECT_EQ(j["arrays"][0]["name"], "values");
  EXPECT_EQ(j["arrays"][0]["shape"][0], (3u << 20) / 8);
  EXPECT_EQ(j["arrays"][0]["chunk_count"], 48);
  EXPECT_EQ(j["metadata"]["seed"], "5");
  EXPECT_EQ(j["checksums"], "verified");
  EXPECT_EQ(j["file_bytes"], fs::file_size(temp("a.strata")));
  auto v = run_command(strata_cli + " verify " + temp("a.strata"));
  EXPECT_EQ(v.exit_code, 0) << v.err;
  fs::remove(temp("a.strata"));
}

// Proves verify exits non-zero with one line naming the first bad chunk after a byte flips.
TEST(DatasetCommands, VerifyNamesTheBadChunk) {
  ASSERT_EQ(run_command(strata_cli + " gen " + temp("b.strata") + " --size 1M --chunk 64K").exit_code, 0);
  {
    std::fstream f(temp("b.strata"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((2 << 20) + 5 * 65536 + 99);  // data starts at 2 MiB: chunk 5
    char c = 0x55;
    f.write(&c, 1);
  }
  auto v = run_command(strata_cli + " verify " + temp("b.strata"));
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_EQ(count_lines(v.err), 1) << v.err;
  EXPECT_NE(v.err.find("chunk=5"), std::string::npos) << v.err;
  fs::remove(temp("b.strata"));
}

// Proves bad input to the dataset commands is one line on stderr and a non-zero exit: a file that
// is not .strata, a missing file, a bad size.
TEST(DatasetCommands, BadInputIsOneLine) {
  { std::ofstream(temp("junk")) << "this is not a strata file, just some text that is long enough\n"; }
  for (const std::string& args : {" inspect " + temp("junk"), " verify " + temp("missing.strata"),
                                  " gen " + temp("x.strata") + " --size 12Q",
                                  " gen " + temp("x.strata") + " --kind spiral"}) {
    auto r = run_command(strata_cli + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(count_lines(r.err), 1) << args << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(temp("x.strata")));
  fs::remove(temp("junk"));
}

}  // namespace

namespace {

// Proves export then import through the command line round-trips every array byte for byte, that
// h5ls sees the exported datasets, and that import without a dataset path is one clear line.
TEST(DatasetCommands, ExportImportRoundTrip) {
  ASSERT_EQ(run_command(strata_cli + " gen " + temp("p.strata") + " --size 256K --kind particles").exit_code, 0);
  auto ex = run_command(strata_cli + " export " + temp("p.strata") + " " + temp("p.h5") + " --gzip 4");
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  auto ls = run_command("h5ls -r " + temp("p.h5"));
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  for (const char* name : {"/position", "/velocity", "/energy", "/id"}) {
    EXPECT_NE(ls.out.find(name), std::string::npos) << ls.out;
  }
  auto im = run_command(strata_cli + " import " + temp("p.h5") + ":/energy " + temp("e.strata"));
  ASSERT_EQ(im.exit_code, 0) << im.err;
  auto original = strata::io::StrataFile::open(temp("p.strata"));
  auto imported = strata::io::StrataFile::open(temp("e.strata"));
  const auto& a = original.array("energy");
  const auto& b = imported.array("energy");
  ASSERT_EQ(a.shape, b.shape);
  auto x = original.bytes(a, 0, a.data_bytes);
  auto y = imported.bytes(b, 0, b.data_bytes);
  EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin()));
  auto bad = run_command(strata_cli + " import " + temp("p.h5") + " " + temp("f.strata"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
  for (auto n : {"p.strata", "p.h5", "e.strata"}) fs::remove(temp(n));
}

}  // namespace

namespace {

// Proves `strata stats` and `strata hist` report what a scalar pass over the same file computes,
// and that two MPI ranks report exactly the same counts and bins as one.
TEST(AnalysisCommands, StatsAndHistMatchScalarAndRanks) {
  ASSERT_EQ(run_command(strata_cli + " gen " + temp("s.strata") + " --size 2M --kind uniform --seed 3 --chunk 64K")
                .exit_code,
            0);
  auto f = strata::io::StrataFile::open(temp("s.strata"));
  std::vector<double> v(f.array("values").data_bytes / 8);
  f.read(f.array("values"), 0, std::as_writable_bytes(std::span(v)));
  long double sum = 0;
  double lo = 1e300, hi = -1e300;
  std::vector<std::uint64_t> bins(10, 0);
  for (double x : v) {
    sum += x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    ++bins[std::min<std::size_t>(9, static_cast<std::size_t>(x / 10.0))];
  }
  auto s = run_command(strata_cli + " stats --json " + temp("s.strata"));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  json js = json::parse(s.out);
  EXPECT_EQ(js["count"], v.size());
  EXPECT_EQ(js["min"], lo);
  EXPECT_EQ(js["max"], hi);
  EXPECT_NEAR(js["sum"].get<double>(), static_cast<double>(sum), 1e-12 * static_cast<double>(sum));
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                             std::string(STRATA_MPIEXEC) + " -np 2 --oversubscribe ";
  for (const std::string& prefix : {std::string(), mpirun}) {
    auto h = run_command(prefix + strata_cli + " hist --json --bins 10 --range 0 100 " + temp("s.strata"));
    ASSERT_EQ(h.exit_code, 0) << prefix << h.err;
    json jh = json::parse(h.out);
    EXPECT_EQ(jh["counts"].get<std::vector<std::uint64_t>>(), bins) << prefix;
    EXPECT_EQ(jh["underflow"], 0);
  }
  auto bad = run_command(strata_cli + " hist " + temp("s.strata") + " --range 5 1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
  fs::remove(temp("s.strata"));
}

}  // namespace

namespace {

// Proves `strata stats`, `strata hist` and `strata stats --hist` fail with one line naming chunk 5
// after a byte in chunk 5 flips, with 1 and 2 threads: verification happens inside the one
// parallel pass; and on 2 ranks the failing rank still prints its line before the job ends.
TEST(AnalysisCommands, BadChunkFailsNamingIt) {
  ASSERT_EQ(
      run_command(strata_cli + " gen " + temp("c.strata") + " --size 1M --chunk 64K").exit_code, 0);
  {
    std::fstream f(temp("c.strata"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((2 << 20) + 5 * 65536 + 99);  // data starts at 2 MiB: chunk 5
    char c = 0x55;
    f.write(&c, 1);
  }
  for (const std::string& command : {std::string(" stats "), std::string(" hist --range 0 1 "),
                                     std::string(" stats --hist 4 --range 0 1 ")}) {
    for (const char* threads : {"1", "2"}) {
      auto r = run_command(strata_cli + command + temp("c.strata") + " --threads " + threads);
      EXPECT_EQ(r.exit_code, 1) << command << threads;
      EXPECT_EQ(count_lines(r.err), 1) << r.err;
      EXPECT_NE(r.err.find("chunk=5"), std::string::npos) << command << threads << ": " << r.err;
    }
  }
  // On 2 ranks only rank 0 reads chunk 5 and fails while rank 1 waits in the merge: the error is
  // still printed, naming the rank, and the job ends non-zero (it once ended in MPI_Abort's report
  // alone: the runtime, unwinding, aborted before the error was printed).
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                             std::string(STRATA_MPIEXEC) + " -np 2 --oversubscribe ";
  auto r = run_command(mpirun + strata_cli + " stats " + temp("c.strata"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("strata: error (rank 0): corrupt_data"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chunk=5"), std::string::npos) << r.err;
  fs::remove(temp("c.strata"));
}

// Proves --range takes exactly two values wherever the dataset and other options come (`--range
// 0 100 FILE --json` once failed with "At Most 2 required but received 3"), or LO,HI, and every
// form counts what `hist FILE --range LO HI` counts.
TEST(AnalysisCommands, RangeStopsAtTwoValues) {
  ASSERT_EQ(
      run_command(strata_cli + " gen " + temp("r.strata") + " --size 256K --kind uniform --seed 4")
          .exit_code,
      0);
  auto after = run_command(strata_cli + " hist --json " + temp("r.strata") + " --range 0 100");
  ASSERT_EQ(after.exit_code, 0) << after.err;
  for (const std::string& args : {" hist --range 0 100 " + temp("r.strata") + " --json",
                                  " hist --json --range 0 100 " + temp("r.strata"),
                                  " hist --range 0,100 " + temp("r.strata") + " --json"}) {
    auto before = run_command(strata_cli + args);
    ASSERT_EQ(before.exit_code, 0) << args << ": " << before.err;
    EXPECT_EQ(json::parse(before.out)["counts"], json::parse(after.out)["counts"]) << args;
    EXPECT_EQ(json::parse(before.out)["low"], 0.0) << args;
    EXPECT_EQ(json::parse(before.out)["high"], 100.0) << args;
  }
  fs::remove(temp("r.strata"));
}

// Proves `strata stats --hist BINS --range LO HI` reports, from its one pass, the statistics
// `stats` reports (the same bits: the same chunking) and the histogram `hist` reports, on one and
// on two ranks; and that --hist and --range each refuse to come alone (exit 2, one line).
TEST(AnalysisCommands, StatsWithHistMatchesStatsAndHist) {
  ASSERT_EQ(run_command(strata_cli + " gen " + temp("sh.strata") +
                        " --size 2M --kind normal --seed 6 --chunk 64K")
                .exit_code,
            0);
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                             std::string(STRATA_MPIEXEC) + " -np 2 --oversubscribe ";
  for (const std::string& prefix : {std::string(), mpirun}) {
    auto stats = run_command(prefix + strata_cli + " stats --json " + temp("sh.strata"));
    auto hist = run_command(prefix + strata_cli + " hist --json --bins 16 --range 20 80 " +
                            temp("sh.strata"));
    auto both = run_command(prefix + strata_cli + " stats " + temp("sh.strata") +
                            " --hist 16 --range 20 80 --json");
    ASSERT_EQ(stats.exit_code, 0) << prefix << stats.err;
    ASSERT_EQ(hist.exit_code, 0) << prefix << hist.err;
    ASSERT_EQ(both.exit_code, 0) << prefix << both.err;
    const json js = json::parse(stats.out), jh = json::parse(hist.out), jb = json::parse(both.out);
    for (const char* field : {"count", "nan_count", "sum", "min", "max", "mean", "variance"}) {
      EXPECT_EQ(jb[field], js[field]) << prefix << field;
    }
    for (const char* field :
         {"low", "high", "edges", "counts", "underflow", "overflow", "nan_count"}) {
      EXPECT_EQ(jb["histogram"][field], jh[field]) << prefix << field;
    }
    EXPECT_GT(jb["histogram"]["underflow"].get<std::uint64_t>(), 0u) << prefix;
  }
  auto text = run_command(strata_cli + " stats --hist 4 --range 0,100 " + temp("sh.strata"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("4 bins over [0, 100)"), std::string::npos) << text.out;
  for (const std::string& alone : {std::string(" --hist 16 "), std::string(" --range 0 1 ")}) {
    auto r = run_command(strata_cli + " stats " + temp("sh.strata") + alone);
    EXPECT_EQ(r.exit_code, 2) << alone;
    EXPECT_EQ(count_lines(r.err), 1) << alone << r.err;
  }
  fs::remove(temp("sh.strata"));
}

// Proves an HDF5 dataset (no checksums, read into memory) still goes through `strata stats`, with
// the count, min and max of the .strata array it was exported from.
TEST(AnalysisCommands, Hdf5StatsStillWork) {
  ASSERT_EQ(
      run_command(strata_cli + " gen " + temp("h.strata") + " --size 256K --kind normal --seed 2")
          .exit_code,
      0);
  ASSERT_EQ(run_command(strata_cli + " export " + temp("h.strata") + " " + temp("h.h5")).exit_code,
            0);
  auto a = run_command(strata_cli + " stats --json " + temp("h.strata"));
  auto b = run_command(strata_cli + " stats --json " + temp("h.h5") + ":/values");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  for (const char* field : {"count", "min", "max"}) {
    EXPECT_EQ(json::parse(a.out)[field], json::parse(b.out)[field]) << field;
  }
  fs::remove(temp("h.strata"));
  fs::remove(temp("h.h5"));
}

}  // namespace

namespace {

// Proves `strata stats` reports the edges of issue 21 in --json and text, at 1, 2 and 4 ranks and
// 1 and 2 threads, against results derived by hand: no values and only NaNs give null (JSON) and
// "none" (text) for mean, variance, min and max; [1e308, 1e308, -1e308] has variance "inf"
// (the variance, (24/9) 1e616 / 3, overflows a double); +inf is the max, written as the string
// "inf" (never null), and -inf as "-inf"; int64 [2^62 + 1, 2^62 + 3] has exact JSON integers
// as min and max, and its sum 2^63 + 4 (past int64) exact in sum_exact.
TEST(AnalysisCommands, StatsEdgesInJsonAndText) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const std::string h5 = temp("edges.h5");
  fs::remove(h5);
  auto write = [&](const char* name, strata::DType dtype, const auto& values) {
    strata::io::export_array(h5, name, dtype, {values.size()}, std::as_bytes(std::span(values)));
  };
  constexpr std::int64_t two62 = std::int64_t{1} << 62;
  write("/empty", strata::DType::f64, std::vector<double>{});
  write("/nan", strata::DType::f64, std::vector<double>(10, std::nan("")));
  write("/big", strata::DType::f64, std::vector<double>{1e308, 1e308, -1e308});
  write("/inf", strata::DType::f64, std::vector<double>{1.0, inf, 2.0});
  write("/neg", strata::DType::f32, std::vector<float>{-INFINITY, 1.0f});
  write("/int", strata::DType::i64, std::vector<std::int64_t>{two62 + 1, two62 + 3});
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                             std::string(STRATA_MPIEXEC) + " --oversubscribe -np ";
  for (const std::string& prefix : {std::string(), mpirun + "2 ", mpirun + "4 "}) {
    for (const char* threads : {"1", "2"}) {
      auto stats = [&](const char* name, const char* json_flag) {
        auto r = run_command(prefix + strata_cli + " stats " + json_flag + " --threads " + threads +
                             " " + h5 + ":" + name);
        EXPECT_EQ(r.exit_code, 0) << prefix << name << ": " << r.err;
        return r.out;
      };
      SCOPED_TRACE(prefix + " threads " + threads);
      // Rank 0 prints the merged result: the text is checked once per thread count.
      const bool text = prefix.empty();
      for (const char* name : {"/empty", "/nan"}) {
        const json j = json::parse(stats(name, "--json"));
        EXPECT_EQ(j["count"], 0) << name;
        EXPECT_EQ(j["nan_count"], name == std::string("/nan") ? 10 : 0) << name;
        for (const char* field : {"mean", "variance", "stddev", "min", "max"}) {
          EXPECT_TRUE(j[field].is_null()) << name << " " << field << ": " << j[field];
        }
        EXPECT_EQ(j["sum"], 0.0) << name;
        if (!text) continue;
        const std::string out = stats(name, "");
        EXPECT_NE(out.find("mean none  stddev none"), std::string::npos) << out;
        EXPECT_NE(out.find("min none  max none"), std::string::npos) << out;
      }
      const json big = json::parse(stats("/big", "--json"));
      EXPECT_EQ(big["variance"], "inf");
      EXPECT_EQ(big["stddev"], "inf");
      EXPECT_EQ(big["sum"], 1e308);
      EXPECT_DOUBLE_EQ(big["mean"].get<double>(), 1e308 / 3.0);
      const json with_inf = json::parse(stats("/inf", "--json"));
      EXPECT_EQ(with_inf["max"], "inf");
      EXPECT_EQ(with_inf["sum"], "inf");
      EXPECT_EQ(with_inf["mean"], "inf");
      EXPECT_EQ(with_inf["variance"], "nan");
      EXPECT_EQ(with_inf["min"], 1.0);
      EXPECT_EQ(with_inf["pos_inf_count"], 1);
      const json negative = json::parse(stats("/neg", "--json"));
      EXPECT_EQ(negative["min"], "-inf");
      EXPECT_EQ(negative["sum"], "-inf");
      EXPECT_EQ(negative["max"], 1.0);
      EXPECT_EQ(negative["neg_inf_count"], 1);
      if (text) EXPECT_NE(stats("/inf", "").find("max inf  sum inf"), std::string::npos);
      const json integers = json::parse(stats("/int", "--json"));
      EXPECT_EQ(integers["min"], two62 + 1);
      EXPECT_EQ(integers["max"], two62 + 3);
      EXPECT_EQ(integers["sum_exact"], "9223372036854775812");
      EXPECT_EQ(integers["variance"], 1.0);
      if (text) {
        EXPECT_NE(stats("/int", "")
                      .find("min 4611686018427387905  max 4611686018427387907  sum "
                            "9223372036854775812"),
                  std::string::npos);
      }
    }
  }
  fs::remove(h5);
}

}  // namespace

namespace {

// Proves `strata hist` counts a value equal to the top of --range as overflow (half-open bins),
// and with --include-high in the last bin as numpy.histogram([0, 5, 10], 2, (0, 10)) does
// ([1, 2]); and that --help says so.
TEST(AnalysisCommands, HistTopEdgeIsOverflowUnlessIncludeHigh) {
  const std::string h5 = temp("edge.h5");
  fs::remove(h5);
  const std::vector<double> values = {0.0, 5.0, 10.0};
  strata::io::export_array(h5, "/v", strata::DType::f64, {values.size()},
                           std::as_bytes(std::span(values)));
  auto half = run_command(strata_cli + " hist --json --bins 2 --range 0 10 " + h5 + ":/v");
  ASSERT_EQ(half.exit_code, 0) << half.err;
  EXPECT_EQ(json::parse(half.out)["counts"], json::array({1, 1}));
  EXPECT_EQ(json::parse(half.out)["overflow"], 1);
  auto closed =
      run_command(strata_cli + " hist --json --include-high --bins 2 --range 0 10 " + h5 + ":/v");
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  EXPECT_EQ(json::parse(closed.out)["counts"], json::array({1, 2}));
  EXPECT_EQ(json::parse(closed.out)["overflow"], 0);
  EXPECT_EQ(json::parse(closed.out)["include_high"], true);
  auto help = run_command(strata_cli + " hist --help");
  EXPECT_NE(help.out.find("half-open"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--include-high"), std::string::npos) << help.out;
  fs::remove(h5);
}

}  // namespace

namespace {

// Proves `stats` and `hist` report the wall time of the whole command and its phases (startup,
// open, compute, merge; `range` for hist without --range), each >= 0 and adding up to at most
// the wall time on one rank; that an HDF5 input's open phase (its read and decompression) is
// reported; that the bandwidth is named for the compute pass; and that the text says so too.
// Fails if a phase is missing, negative, or the wall time is only part of the command.
TEST(AnalysisCommands, RunReportsWallTimeAndPhases) {
  ASSERT_EQ(
      run_command(strata_cli + " gen " + temp("t.strata") + " --size 1M --kind uniform --seed 4")
          .exit_code,
      0);
  fs::remove(temp("t.h5"));
  ASSERT_EQ(
      run_command(strata_cli + " export " + temp("t.strata") + " " + temp("t.h5") + " --gzip 1")
          .exit_code,
      0);
  const std::string h5 = temp("t.h5") + ":/values";
  for (const std::string& args : {" stats --json " + temp("t.strata"), " stats --json " + h5,
                                  " stats --json --hist 4 --range 0 100 " + h5,
                                  " hist --json --range 0 100 " + h5, " hist --json " + h5}) {
    auto r = run_command(strata_cli + args);
    ASSERT_EQ(r.exit_code, 0) << args << ": " << r.err;
    const json run = json::parse(r.out)["run"];
    ASSERT_TRUE(run.contains("wall_seconds")) << args << ": " << run.dump();
    ASSERT_TRUE(run["phases"].is_object()) << args << ": " << run.dump();
    std::vector<std::string> expected = {"startup", "open", "load", "compute", "merge"};
    if (args.find("hist --json " + h5) != std::string::npos) expected.push_back("range");
    EXPECT_EQ(run["phases"].size(), expected.size()) << args << ": " << run.dump();
    double sum = 0;
    for (const std::string& phase : expected) {
      ASSERT_TRUE(run["phases"].contains(phase)) << args << ": " << phase << " in " << run.dump();
      EXPECT_GE(run["phases"][phase].get<double>(), 0.0) << args << ": " << phase;
      sum += run["phases"][phase].get<double>();
    }
    // One rank: the phases are consecutive parts of the command (1e-9: rounding of the sum).
    EXPECT_GE(run["wall_seconds"].get<double>() + 1e-9, sum) << args << ": " << run.dump();
    EXPECT_TRUE(run.contains("compute_gbps")) << args;
    EXPECT_FALSE(run.contains("seconds")) << args;  // the old, unlabelled compute-only time
    EXPECT_FALSE(run.contains("bandwidth_gbps")) << args;
    if (args.find(".h5") != std::string::npos) {
      EXPECT_GT(run["phases"]["open"].get<double>(), 0.0) << args;  // HDF5 is read on open
    }
  }
  for (const std::string& args : {" stats " + h5, " hist --range 0 100 " + h5}) {
    auto r = run_command(strata_cli + args);
    ASSERT_EQ(r.exit_code, 0) << args << ": " << r.err;
    for (const char* label : {" wall (", "startup ", "open ", "compute ", "merge ", " GB/s"}) {
      EXPECT_NE(r.out.find(label), std::string::npos) << args << ": " << label << " in " << r.out;
    }
  }
  fs::remove(temp("t.strata"));
  fs::remove(temp("t.h5"));
}

// Proves `strata hist` without --range takes numpy.histogram's range, on one and two ranks,
// against counts derived by hand: [1, 2, 2, 3, 7, NaN] in 3 bins is [1, 7] with edges 1 3 5 7
// and counts [3, 1, 1] (7 in the closed last bin, the NaN counted apart); [4, 4, 4] in 2 bins is
// [3.5, 4.5] and counts [0, 3]; int32 [-2, 0, 5, 5] in 7 bins is [-2, 5], counts
// [1, 0, 1, 0, 0, 0, 2]. Only NaNs, or an infinity, leave no range: one line naming --range
// (on one rank: an error on several ranks ends in an MPI abort, which is outside this command).
TEST(AnalysisCommands, HistWithoutRangeTakesTheDataRange) {
  const std::string h5 = temp("autorange.h5");
  fs::remove(h5);
  auto write = [&](const char* name, strata::DType dtype, const auto& values) {
    strata::io::export_array(h5, name, dtype, {values.size()}, std::as_bytes(std::span(values)));
  };
  write("/mixed", strata::DType::f64, std::vector<double>{1, 2, 2, 3, 7, std::nan("")});
  write("/same", strata::DType::f64, std::vector<double>{4, 4, 4});
  write("/int", strata::DType::i32, std::vector<std::int32_t>{-2, 0, 5, 5});
  write("/nan", strata::DType::f64, std::vector<double>(3, std::nan("")));
  write("/inf", strata::DType::f64, std::vector<double>{1, INFINITY});
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                             std::string(STRATA_MPIEXEC) + " -np 2 --oversubscribe ";
  for (const std::string& prefix : {std::string(), mpirun}) {
    auto hist = [&](const std::string& args) {
      auto r = run_command(prefix + strata_cli + " hist --json " + args);
      EXPECT_EQ(r.exit_code, 0) << prefix << args << ": " << r.err;
      return r.exit_code == 0 ? json::parse(r.out) : json::object();
    };
    const json mixed = hist("--bins 3 " + h5 + ":/mixed");
    EXPECT_EQ(mixed["edges"], json::array({1.0, 3.0, 5.0, 7.0})) << prefix;
    EXPECT_EQ(mixed["counts"], json::array({3, 1, 1})) << prefix;
    EXPECT_EQ(mixed["overflow"], 0) << prefix;
    EXPECT_EQ(mixed["nan_count"], 1) << prefix;
    EXPECT_EQ(mixed["include_high"], true) << prefix;
    const json same = hist("--bins 2 " + h5 + ":/same");
    EXPECT_EQ(same["low"], 3.5) << prefix;
    EXPECT_EQ(same["high"], 4.5) << prefix;
    EXPECT_EQ(same["counts"], json::array({0, 3})) << prefix;
    const json ints = hist("--bins 7 " + h5 + ":/int");
    EXPECT_EQ(ints["low"], -2.0) << prefix;
    EXPECT_EQ(ints["high"], 5.0) << prefix;
    EXPECT_EQ(ints["counts"], json::array({1, 0, 1, 0, 0, 0, 2})) << prefix;
  }
  for (const char* name : {"/nan", "/inf"}) {
    auto r = run_command(strata_cli + " hist " + h5 + ":" + name);
    EXPECT_EQ(r.exit_code, 1) << name << ": " << r.err;
    EXPECT_NE(r.err.find("give --range"), std::string::npos) << name << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << name << ": " << r.err;
  }
  auto text = run_command(strata_cli + " hist --bins 3 " + h5 + ":/mixed");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("3 bins over [1, 7] (the data's min and max)"), std::string::npos)
      << text.out;
  auto help = run_command(strata_cli + " hist --help");
  EXPECT_NE(help.out.find("Without --range"), std::string::npos) << help.out;
  fs::remove(h5);
}

}  // namespace
