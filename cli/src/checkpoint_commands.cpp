// SPDX-License-Identifier: Apache-2.0
// `strata ckpt`: thin wrappers over the checkpoint tools of strata::io (checkpoint.hpp); every
// check lives there. Exit codes: 0 good, 1 a problem found or an error, 2 a bad command line.
#include "checkpoint_commands.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "byte_size.hpp"
#include "command_rules.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"
#include "strata/io/files/output_rules.hpp"
#include "strata/io/files/unfinished_files.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/progress.hpp"
#include "strata/runtime/base/text.hpp"

namespace strata::cli {
namespace {

using nlohmann::json;

struct CkptOptions {
  std::string dir;
  long step = -1;  // -1: the newest complete checkpoint
  bool json = false;
  int keep = 2;
  std::string hdf5;
  std::string hdf5_positional;  // `ckpt export DIR OUT.h5`, as `export FILE OUT.h5`
  std::vector<std::string> regions;
  bool overwrite = false;
  std::string local_dir;  // the node-local level's folder (local_dir of the Checkpointer)
  bool quiet = false;
};

// The newest step with a manifest. With `damaged_too`, also one whose manifest cannot be read:
// verify must report a damaged newest step, not pass over it to an older good one.
long newest_step(const std::string& dir, bool damaged_too = false) {
  std::vector<io::SkippedCheckpoint> problems;
  auto all = io::list_checkpoints(dir, &problems);
  long newest = all.empty() ? -1 : all.back().step;
  if (damaged_too) {
    for (const auto& p : problems) newest = std::max(newest, p.step);
  }
  if (newest < 0) {
    throw Error(ErrorCategory::invalid_argument, "no complete checkpoint in the folder", {{"folder", dir}});
  }
  return newest;
}

json describe(const io::CheckpointInfo& c) {
  json regions = json::array();
  for (const auto& r : c.regions) {
    std::vector<std::size_t> shape(r.global_shape.begin(), r.global_shape.end());
    regions.push_back({{"name", r.name}, {"dtype", to_string(r.dtype)}, {"global_shape", shape},
                       {"rank_local", r.rank_local}});
  }
  return {{"step", c.step},           {"path", c.path},         {"ranks", c.ranks},
          {"raw_bytes", c.raw_bytes}, {"shard_bytes", c.shard_bytes},
          {"incremental", c.incremental}, {"depends_on", c.depends_on},
          {"created", c.created},     {"regions", regions}};
}

// With --local: each step's levels and what a restart would use.
void run_list_levels(const CkptOptions& o) {
  const io::LevelListing listing = io::list_checkpoint_levels(o.dir, o.local_dir);
  if (listing.steps.empty()) {
    throw Error(ErrorCategory::invalid_argument,
                "no checkpoints in the shared or the local folders",
                {{"folder", o.dir}, {"local", o.local_dir}});
  }
  auto restart_text = [&] {
    return listing.restart_step ? "step " + std::to_string(*listing.restart_step) + " from " +
                                      io::to_string(listing.restart_level)
                                : std::string("nothing (fresh start)");
  };
  if (o.json) {
    json steps = json::array();
    for (const auto& l : listing.steps) {
      json levels = json::array();
      if (!l.local.empty()) levels.push_back(l.local);
      if (l.shared) levels.push_back("shared");
      steps.push_back({{"step", l.step},
                       {"ranks", l.ranks},
                       {"levels", levels},
                       {"nodes", l.nodes},
                       {"restart", listing.restart_step && *listing.restart_step == l.step}});
    }
    json out = {{"steps", steps}};
    if (listing.restart_step) {
      out["restart"] = {{"step", *listing.restart_step},
                        {"level", io::to_string(listing.restart_level)}};
    }
    std::cout << json_text(out) << '\n';
    return;
  }
  std::cout << std::left << std::setw(12) << "step" << std::setw(7) << "ranks" << std::setw(12)
            << "local" << std::setw(8) << "shared"
            << "node folders\n";
  for (const auto& l : listing.steps) {
    std::string nodes;
    for (const auto& n : l.nodes) nodes += (nodes.empty() ? "" : ", ") + printable(n);
    std::cout << std::setw(12) << l.step << std::setw(7) << l.ranks << std::setw(12)
              << (l.local.empty() ? "-" : l.local) << std::setw(8) << (l.shared ? "yes" : "-")
              << nodes << '\n';
  }
  std::cout << "restart would use " << restart_text() << '\n';
}

void run_list(const CkptOptions& o) {
  if (!o.local_dir.empty()) {
    run_list_levels(o);
    return;
  }
  std::vector<io::SkippedCheckpoint> problems;
  auto all = io::list_checkpoints(o.dir, &problems);
  for (const auto& p : problems) {
    std::cerr << "strata: warning: step " << p.step << " unreadable: " << p.reason << '\n';
  }
  if (all.empty()) {  // an empty table with exit 0 would pass for a listing in a job script
    throw Error(ErrorCategory::invalid_argument,
                problems.empty() ? "no checkpoints in the folder (a Checkpointer writes step-N "
                                   "folders; is this the folder given as CheckpointOptions::dir?)"
                                 : "no readable checkpoint in the folder",
                {{"folder", o.dir}});
  }
  if (o.json) {
    json out = json::array();
    for (const auto& c : all) out.push_back(describe(c));
    std::cout << json_text(out) << '\n';
    return;
  }
  std::cout << std::left << std::setw(12) << "step" << std::setw(7) << "ranks" << std::setw(12)
            << "state" << std::setw(12) << "stored" << std::setw(22) << "created" << "regions\n";
  for (const auto& c : all) {
    std::string regions;
    for (const auto& r : c.regions) {
      if (!regions.empty()) regions += ", ";
      regions += printable(r.name);
      regions += ' ';
      regions += to_string(r.dtype);
      regions += r.global_shape.to_string();
    }
    std::string deps;
    for (long d : c.depends_on) deps += (deps.empty() ? " (reuses " : ", ") + std::to_string(d);
    if (!deps.empty()) deps += ")";
    std::cout << std::setw(12) << c.step << std::setw(7) << c.ranks << std::setw(12)
              << format_bytes(c.raw_bytes) << std::setw(12) << format_bytes(c.shard_bytes)
              << std::setw(22) << c.created << regions << deps << '\n';
  }
}

// Error(invalid_argument) naming the steps the folder holds when `step` is not one of them.
void require_step(const std::string& dir, long step) {
  std::vector<io::SkippedCheckpoint> problems;
  std::vector<long> steps;
  for (const auto& c : io::list_checkpoints(dir, &problems)) steps.push_back(c.step);
  for (const auto& p : problems) steps.push_back(p.step);
  if (std::find(steps.begin(), steps.end(), step) != steps.end()) return;
  std::sort(steps.begin(), steps.end());
  std::string list;
  for (long s : steps) list += (list.empty() ? "" : ", ") + std::to_string(s);
  throw Error(ErrorCategory::invalid_argument,
              "no checkpoint of step " + std::to_string(step) + " in the folder; " +
                  (steps.empty() ? std::string("it holds none") : "its steps are " + list),
              {{"folder", dir}});
}

int run_verify(const CkptOptions& o) {
  if (o.step >= 0) require_step(o.dir, o.step);
  const long step = o.step >= 0 ? o.step : newest_step(o.dir, true);
  Progress progress;
  ProgressReport report("ckpt verify step " + std::to_string(step), progress,
                        {.enabled = !o.quiet});
  auto problems = io::verify_checkpoint(o.dir, step, &progress);
  report.finish();
  if (o.json) {
    std::cout << json_text(json{{"step", step}, {"ok", problems.empty()}, {"problems", problems}})
              << '\n';
  } else if (problems.empty()) {
    std::cout << "step " << step << ": ok (every shard's SHA-256 and every chunk's XXH3 verified)\n";
  }
  for (const auto& p : problems) std::cerr << "strata: step " << step << ": " << p << '\n';
  return problems.empty() ? 0 : 1;
}

// HDF5 dataset names from region names: '/' would create groups, so it becomes '_'.
std::string dataset_name(const std::string& region) {
  std::string name = "/";
  for (char c : region) name += c == '/' ? '_' : c;
  return name;
}

void run_export(CkptOptions o) {
  namespace fs = std::filesystem;
  if (!o.hdf5_positional.empty()) {
    if (!o.hdf5.empty() && o.hdf5 != o.hdf5_positional) {
      throw Error(ErrorCategory::invalid_argument, "two different output files given",
                  {{"--hdf5", o.hdf5}, {"out", o.hdf5_positional}});
    }
    o.hdf5 = o.hdf5_positional;
  }
  if (o.hdf5.empty()) {
    throw Error(ErrorCategory::invalid_argument,
                "name the HDF5 file to write: strata ckpt export DIR OUT.h5");
  }
  if (o.step >= 0) require_step(o.dir, o.step);
  std::vector<io::SkippedCheckpoint> problems;
  auto all = io::list_checkpoints(o.dir, &problems);
  const io::CheckpointInfo* info = nullptr;
  for (const auto& c : all) {
    if (o.step < 0 || c.step == o.step) info = &c;  // the newest readable one without --step
  }
  for (const auto& p : problems) {
    if (o.step == p.step) {
      throw Error(ErrorCategory::corrupt_data, "checkpoint unreadable: " + p.reason,
                  {{"folder", o.dir}, {"step", std::to_string(p.step)}});
    }
    // Falling back past a newer step must be said: the user asked for the newest.
    if (o.step < 0 && (info == nullptr || p.step > info->step)) {
      std::cerr << "strata: warning: step " << p.step << " skipped (" << p.reason << ")\n";
    }
  }
  if (info == nullptr) {
    if (o.step < 0) {
      throw Error(ErrorCategory::invalid_argument, "no complete checkpoint in the folder",
                  {{"folder", o.dir}});
    }
    throw Error(ErrorCategory::invalid_argument, "no complete checkpoint for this step",
                {{"folder", o.dir}, {"step", std::to_string(o.step)}});
  }
  const long step = info->step;
  auto chosen = [&](const io::CheckpointRegionInfo& r) {
    return o.regions.empty() ||
           std::find(o.regions.begin(), o.regions.end(), r.name) != o.regions.end();
  };
  std::uint64_t expected_bytes = 0;  // the global arrays, uncompressed
  for (const auto& r : info->regions) {
    if (chosen(r) && !r.rank_local) expected_bytes += r.global_shape.byte_count(r.dtype);
  }
  io::check_output(o.hdf5, {.kind = io::OutputKind::hdf5_export,
                            .overwrite = o.overwrite,
                            .expected_bytes = expected_bytes});
  remove_abandoned_beside(o.hdf5);
  io::InterruptCleanup cleanup("ckpt export " + printable(o.hdf5));
  // Written under a hidden temporary name and renamed once complete: no half-exported file, and
  // none left behind by an error or an interrupt.
  io::UnfinishedFile temp(o.hdf5);
  Progress progress;
  ProgressReport report("ckpt export " + printable(o.hdf5), progress, {.enabled = !o.quiet});
  std::size_t exported = 0;
  for (const auto& r : info->regions) {
    if (!chosen(r)) continue;
    if (r.rank_local) {
      std::cerr << "strata: note: region '" << printable(r.name)
                << "' is rank-local state, not exported\n";
      continue;
    }
    io::Hdf5ExportOptions options;  // streamed in slabs of 64 MiB: bounded memory at any size
    options.root_attributes = {{"strata.checkpoint.step", std::to_string(step)},
                               {"strata.checkpoint.folder", fs::absolute(o.dir).string()}};
    options.progress = &progress;
    io::export_checkpoint_region(o.dir, step, r.name, temp.path(), dataset_name(r.name), options);
    std::cout << "exported " << printable(r.name) << " " << to_string(r.dtype)
              << r.global_shape.to_string() << " of step " << step << " -> " << printable(o.hdf5)
              << ":" << printable(dataset_name(r.name)) << '\n';
    ++exported;
  }
  report.finish();
  if (exported == 0) {
    throw Error(ErrorCategory::invalid_argument, "nothing to export (no such region)",
                {{"folder", o.dir}});
  }
  temp.publish(o.hdf5, {{"file", o.hdf5}});
}

void run_drain(const CkptOptions& o) {
  const auto drained = io::drain_checkpoint(
      o.dir, o.local_dir, o.step >= 0 ? std::optional<long>(o.step) : std::nullopt);
  if (!drained) {
    std::cout << "nothing to drain (the shared folder holds every step the local folders hold "
                 "whole)\n";
    return;
  }
  std::cout << "drained step " << *drained << " to " << printable(o.dir) << '\n';
}

void run_prune(const CkptOptions& o) {
  auto removed = io::prune_checkpoints(o.dir, o.keep);
  if (removed.empty()) std::cout << "nothing to remove\n";
  for (long step : removed) std::cout << "removed step " << step << '\n';
}

}  // namespace

void add_checkpoint_commands(CLI::App& app) {
  auto o = std::make_shared<CkptOptions>();
  CLI::App* ckpt =
      app.add_subcommand("ckpt", "List, verify, export, drain or prune a checkpoint folder");
  ckpt->require_subcommand(1);

  CLI::App* list = ckpt->add_subcommand("list", "Complete checkpoints, oldest first");
  list->add_option("dir", o->dir, "Checkpoint folder")->required()->check(CLI::ExistingDirectory);
  list->add_flag("--json", o->json, "Print JSON");
  list->add_option("--local", o->local_dir,
                   "Node-local level's folder: show each step's levels and what restart uses")
      ->check(CLI::ExistingDirectory);
  list->callback([o] { run_list(*o); });

  CLI::App* verify = ckpt->add_subcommand("verify", "Check every shard's SHA-256 and every chunk");
  verify->add_option("dir", o->dir, "Checkpoint folder")->required()->check(CLI::ExistingDirectory);
  verify->add_option("--step", o->step, "Step to verify (default: the newest)")
      ->check(whole_number_at_least(0));
  verify->add_flag("--json", o->json, "Print JSON");
  add_quiet_flag(verify, o->quiet);
  verify->callback([o] {
    if (int rc = run_verify(*o); rc != 0) throw CLI::RuntimeError(rc);
  });

  CLI::App* exp = ckpt->add_subcommand("export", "Write a checkpoint's global arrays to HDF5");
  exp->add_option("dir", o->dir, "Checkpoint folder")->required()->check(CLI::ExistingDirectory);
  exp->add_option("out", o->hdf5_positional, "Output HDF5 file (or --hdf5)");
  exp->add_option("--hdf5", o->hdf5, "Output HDF5 file");
  exp->add_option("--step", o->step, "Step to export (default: the newest)")
      ->check(whole_number_at_least(0));
  exp->add_option("--region", o->regions, "Only these regions (repeatable)");
  exp->add_flag("--overwrite", o->overwrite, "Replace an existing output file");
  add_quiet_flag(exp, o->quiet);
  exp->callback([o] { run_export(*o); });

  CLI::App* drain = ckpt->add_subcommand(
      "drain", "Copy a step from the node-local folders into the shared folder (two-phase commit)");
  drain->add_option("dir", o->dir, "Shared checkpoint folder")->required();
  drain->add_option("--local", o->local_dir, "Node-local level's folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  drain
      ->add_option("--step", o->step, "Step to drain (default: the newest the shared folder lacks)")
      ->check(whole_number_at_least(0));
  drain->callback([o] { run_drain(*o); });

  CLI::App* prune = ckpt->add_subcommand("prune", "Delete all but the newest --keep checkpoints");
  prune->add_option("dir", o->dir, "Checkpoint folder")->required()->check(CLI::ExistingDirectory);
  prune->add_option("--keep", o->keep, "Complete checkpoints to keep (at least 1)")
      ->required()
      ->check(whole_number_at_least(1));
  prune->callback([o] { run_prune(*o); });
}

}  // namespace strata::cli
