// SPDX-License-Identifier: Apache-2.0
// gen, inspect, verify, import, export: thin wrappers over strata::io; all checks live there.
#include "dataset_commands.hpp"

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "byte_size.hpp"
#include "command_rules.hpp"
#include "strata/io/dataset/synthetic.hpp"
#include "strata/io/files/output_rules.hpp"
#include "strata/io/files/unfinished_files.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/progress.hpp"
#include "strata/runtime/base/text.hpp"

namespace strata::cli {
namespace {

using nlohmann::json;

struct GenOptions {
  std::string out;
  std::string size = "64M";
  std::string kind = "uniform";
  std::string dtype = "f64";
  double low = 0.0;
  double high = 100.0;
  std::uint64_t seed = 1;
  std::string chunk = "4M";
  unsigned threads = 0;
  bool overwrite = false;
  bool quiet = false;
};

void run_gen(const GenOptions& g) {
  io::SyntheticOptions o;
  o.kind = io::parse_synthetic_kind(g.kind);
  o.bytes = parse_byte_size(g.size);
  o.dtype = parse_dtype(g.dtype);
  o.low = g.low;
  o.high = g.high;
  o.seed = g.seed;
  o.chunk_bytes = parse_byte_size(g.chunk);
  o.threads = checked_threads(g.threads);
  io::check_output(
      g.out, {.kind = io::OutputKind::strata, .overwrite = g.overwrite, .expected_bytes = o.bytes});
  remove_abandoned_beside(g.out);
  io::InterruptCleanup cleanup("gen " + printable(g.out));
  Progress progress;
  ProgressReport report("gen " + printable(g.out), progress, {.enabled = !g.quiet});
  o.progress = &progress;
  auto start = std::chrono::steady_clock::now();
  io::SyntheticResult r = io::generate_dataset(g.out, o);
  report.finish();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << printable(g.out) << ": " << g.kind << ", " << r.elements
            << (o.kind == io::SyntheticKind::particles ? " particles, " : " values, ")
            << format_bytes(r.bytes) << " in " << std::fixed << std::setprecision(2) << seconds
            << " s\n";
}

std::string format_time(std::int64_t unix_ns) {
  std::time_t t = static_cast<std::time_t>(unix_ns / 1000000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

json describe_file(const io::StrataFile& f, const io::VerifyResult* verified) {
  const io::FileHeader& h = f.header();
  json j = {{"file", f.path()},
            {"format", std::to_string(h.version_major) + "." + std::to_string(h.version_minor)},
            {"uuid", h.uuid_string()},
            {"created", format_time(h.created_unix_ns)},
            {"creator", h.creator},
            {"file_bytes", h.file_bytes},
            {"arrays", json::array()},
            {"metadata", json::object()}};
  for (const auto& a : f.arrays()) {
    std::vector<std::uint64_t> shape(a.shape.begin(), a.shape.end());
    j["arrays"].push_back({{"name", a.name},
                           {"dtype", to_string(a.dtype)},
                           {"shape", shape},
                           {"data_offset", a.data_offset},
                           {"data_bytes", a.data_bytes},
                           {"chunk_bytes", a.chunk_bytes},
                           {"chunk_count", a.chunk_count}});
  }
  for (const auto& [k, v] : f.metadata()) j["metadata"][k] = v;
  if (verified) {
    j["checksums"] = verified->ok() ? "verified" : "bad";
    if (!verified->ok()) j["first_bad"] = verified->message();
  } else {
    j["checksums"] = "not checked (use --verify or strata verify)";
  }
  return j;
}

void print_file(const json& j) {
  // Names, metadata and the creator come from the file: printed escaped, never raw.
  std::cout << printable(j["file"].get<std::string>()) << ": strata format "
            << j["format"].get<std::string>() << ", " << format_bytes(j["file_bytes"])
            << "\n  uuid     " << j["uuid"].get<std::string>() << "\n  created  "
            << j["created"].get<std::string>() << " by "
            << printable(j["creator"].get<std::string>()) << '\n';
  for (const auto& a : j["arrays"]) {
    std::string shape;
    for (const auto& e : a["shape"]) shape += (shape.empty() ? "" : " x ") + std::to_string(e.get<std::uint64_t>());
    std::cout << "  array    " << printable(a["name"].get<std::string>()) << ": "
              << a["dtype"].get<std::string>() << " [" << shape << "], "
              << format_bytes(a["data_bytes"]) << " at offset " << a["data_offset"] << ", "
              << a["chunk_count"] << " chunks of " << format_bytes(a["chunk_bytes"]) << '\n';
  }
  for (const auto& [k, v] : j["metadata"].items()) {
    std::cout << "  meta     " << printable(k) << " = " << printable(v.get<std::string>()) << '\n';
  }
  std::cout << "  checksums " << j["checksums"].get<std::string>();
  if (j.contains("first_bad")) std::cout << ": " << printable(j["first_bad"].get<std::string>());
  std::cout << '\n';
}

}  // namespace

void add_dataset_commands(CLI::App& app) {
  auto gen = std::make_shared<GenOptions>();
  CLI::App* g = app.add_subcommand("gen", "Generate a synthetic .strata dataset");
  g->add_option("out", gen->out,
                "Output .strata file (an existing file is replaced only with --overwrite)")
      ->required();
  g->add_option("--size", gen->size, "Bytes of data, e.g. 512M, 1.5G")->capture_default_str();
  g->add_option("--kind", gen->kind, "uniform, normal or particles")->capture_default_str();
  g->add_option(
       "--dtype", gen->dtype,
       "Element type of uniform/normal values: f32 f64 i8..i64 u8..u64 (or float32, uint16, ...)")
      ->capture_default_str();
  g->add_option("--low", gen->low,
                "Lower end of the value range (uniform); normal: mean (low+high)/2, "
                "stddev (high-low)/8, not clipped")
      ->capture_default_str();
  g->add_option("--high", gen->high, "Upper end of the value range (uniform; see --low)")
      ->capture_default_str();
  g->add_option("--seed", gen->seed, "Random seed; the same seed gives the same bytes")->capture_default_str();
  g->add_option("--chunk", gen->chunk, "Checksum chunk size")->capture_default_str();
  g->add_option(
       "--threads", gen->threads,
       "Worker threads (0: STRATA_THREADS or all allowed CPUs; at most 16 per allowed CPU)")
      ->capture_default_str();
  g->add_flag("--overwrite", gen->overwrite, "Replace an existing output file");
  add_quiet_flag(g, gen->quiet);
  g->callback([gen] { run_gen(*gen); });

  struct InspectOptions {
    std::string file;
    bool json = false;
    bool verify = false;
  };
  auto inspect = std::make_shared<InspectOptions>();
  CLI::App* i = app.add_subcommand("inspect", "Show a .strata file's header, arrays, metadata and checksum state");
  i->add_option("file", inspect->file, "A .strata file")->required();
  i->add_flag("--json", inspect->json, "Print JSON");
  i->add_flag("--verify", inspect->verify, "Also verify every chunk");
  i->callback([inspect] {
    io::StrataFile f = io::StrataFile::open(inspect->file);
    std::optional<io::VerifyResult> v;
    if (inspect->verify) v = f.verify(checked_threads(0));
    json j = describe_file(f, v ? &*v : nullptr);
    if (inspect->json)
      std::cout << json_text(j) << '\n';
    else print_file(j);
    if (v && !v->ok()) throw Error(ErrorCategory::corrupt_data, v->message(), {{"file", inspect->file}});
  });

  struct VerifyOptions {
    std::string file;
    unsigned threads = 0;
    bool quiet = false;
  };
  auto verify = std::make_shared<VerifyOptions>();
  CLI::App* v = app.add_subcommand("verify", "Check every chunk checksum of a .strata file; non-zero exit names the first bad chunk");
  v->add_option("file", verify->file, "A .strata file")->required();
  v->add_option("--threads", verify->threads,
                "Threads (0: STRATA_THREADS or all allowed CPUs; at most 16 per allowed CPU)");
  add_quiet_flag(v, verify->quiet);
  v->callback([verify] {
    const unsigned threads = checked_threads(verify->threads);
    io::StrataFile f = io::StrataFile::open(verify->file);
    Progress progress;
    ProgressReport report("verify " + printable(verify->file), progress,
                          {.enabled = !verify->quiet});
    io::VerifyResult r = f.verify(threads, &progress);
    report.finish();
    if (!r.ok()) {
      throw Error(ErrorCategory::corrupt_data, r.message(),
                  {{"file", verify->file}, {"array", *r.bad_array}, {"chunk", std::to_string(r.bad_chunk)}});
    }
    std::cout << printable(verify->file) << ": " << printable(r.message()) << '\n';
  });

  struct ImportOptions {
    std::string source;
    std::string out;
    std::string name;
    bool allow_external = false;
    bool overwrite = false;
    bool quiet = false;
  };
  auto import = std::make_shared<ImportOptions>();
  CLI::App* im = app.add_subcommand("import", "Import an HDF5 dataset (FILE.h5:/path) into a .strata file");
  im->add_option("source", import->source, "FILE.h5:/group/dataset")->required();
  im->add_option("out", import->out,
                 "Output .strata file (never the input; an existing file is replaced only with "
                 "--overwrite)")
      ->required();
  im->add_option("--name", import->name, "Array name in the .strata file (default: the dataset's name)");
  im->add_flag("--allow-external", import->allow_external,
               "Read a dataset whose data lives in other files (HDF5 external storage or a virtual "
               "dataset mapping other files); they are recorded as source.external_files");
  im->add_flag("--overwrite", import->overwrite, "Replace an existing output file");
  add_quiet_flag(im, import->quiet);
  im->callback([import] {
    const io::Hdf5Path source = io::Hdf5Path::parse(import->source);
    // Opened first for its size (and to refuse a missing dataset): the output's free space.
    const std::uint64_t bytes = [&] {
      const auto dataset =
          io::Hdf5Dataset::open(source, {.allow_external = import->allow_external});
      return dataset.shape().byte_count(dataset.dtype());
    }();
    io::check_output(import->out, {.kind = io::OutputKind::strata,
                                   .overwrite = import->overwrite,
                                   .inputs = {source.file},
                                   .expected_bytes = bytes});
    remove_abandoned_beside(import->out);
    io::InterruptCleanup cleanup("import " + printable(import->out));
    Progress progress;
    ProgressReport report("import " + printable(import->out), progress,
                          {.enabled = !import->quiet});
    io::Hdf5ImportOptions o;
    o.array_name = import->name;
    o.allow_external = import->allow_external;
    o.progress = &progress;
    auto r = io::import_hdf5(source, import->out, o);
    report.finish();
    std::cout << "imported " << printable(import->source) << " into " << printable(import->out)
              << " as '" << printable(r.array_name) << "': " << to_string(r.dtype) << ' '
              << r.shape.to_string() << ", " << format_bytes(r.data_bytes) << '\n';
  });

  struct ExportOptions {
    std::string file;
    std::string out;
    int gzip = 0;
    bool overwrite = false;
    bool quiet = false;
  };
  auto exp = std::make_shared<ExportOptions>();
  CLI::App* ex = app.add_subcommand("export", "Export every array of a .strata file to an HDF5 file");
  ex->add_option("file", exp->file, "A .strata file")->required();
  ex->add_option("out", exp->out,
                 "Output HDF5 file (never the input; an existing file is replaced only with "
                 "--overwrite)")
      ->required();
  ex->add_option("--gzip", exp->gzip, "Gzip level 1-9 (0: none)")->check(CLI::Range(0, 9));
  ex->add_flag("--overwrite", exp->overwrite, "Replace an existing output file");
  add_quiet_flag(ex, exp->quiet);
  ex->callback([exp] {
    io::Hdf5ExportOptions o;
    o.gzip_level = exp->gzip;
    // Uncompressed, the export is as large as the arrays; compressed, its size is not known.
    std::uint64_t expected_bytes = 0;
    if (exp->gzip == 0) {
      for (const auto& a : io::StrataFile::open(exp->file).arrays()) expected_bytes += a.data_bytes;
    }
    o.overwrite = io::check_output(exp->out, {.kind = io::OutputKind::hdf5_export,
                                              .overwrite = exp->overwrite,
                                              .inputs = {exp->file},
                                              .expected_bytes = expected_bytes});
    remove_abandoned_beside(exp->out);
    io::InterruptCleanup cleanup("export " + printable(exp->out));
    Progress progress;
    ProgressReport report("export " + printable(exp->out), progress, {.enabled = !exp->quiet});
    o.progress = &progress;
    io::export_strata(exp->file, exp->out, o);
    report.finish();
    std::cout << "exported " << printable(exp->file) << " to " << printable(exp->out) << '\n';
  });
}

}  // namespace strata::cli
