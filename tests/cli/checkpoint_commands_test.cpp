// SPDX-License-Identifier: Apache-2.0
// Tests of `strata ckpt list | verify | export | prune` as a user runs them on a checkpoint
// folder written by the library: what they print, their exit codes, and what they leave on disk.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/sha256_hex.hpp"
#include "run_command.hpp"
#include "strata/io/checkpoint/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using strata::test::run_command;

const std::string strata_cli = STRATA_CLI_PATH;

// One runtime for the binary (MPI starts once per process).
strata::Runtime& runtime() {
  static strata::Runtime rt({.install_stop_signals = false});
  return rt;
}

// A folder with checkpoints of steps 1, 2 and 3 of a 64 x 100 f64 field (value = step * 1e6 + i).
std::string make_checkpoints(const std::string& name) {
  std::string dir = (fs::temp_directory_path() / ("strata-cli-ckpt-" + std::to_string(getpid()) + "-" + name)).string();
  fs::remove_all(dir);
  strata::Executor ex(runtime(), {.threads = 1});
  std::vector<double> field(64 * 100);
  strata::io::Checkpointer ck(runtime(), ex, {.dir = dir, .keep = 5, .chunk_bytes = 8192});
  ck.protect("temperature", std::span(field), {strata::Shape{64, 100}, 0});
  for (long step = 1; step <= 3; ++step) {
    for (std::size_t i = 0; i < field.size(); ++i) field[i] = static_cast<double>(step) * 1e6 + static_cast<double>(i);
    ck.save(step);
    ck.wait();
  }
  return dir;
}

std::string slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using strata::test::sha256_hex;

// Writes `whole` (a manifest's JSON line) to `path` with its body's SHA-256 recomputed, followed
// by `table` (a format 4 manifest's rank table, unchanged): a forged manifest whose seal is
// right, so only its own consistency checks can catch it.
void write_resealed(const std::string& path, json whole, const std::string& table = "") {
  whole["sha256"] = sha256_hex(whole["manifest"].dump());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << whole.dump() << "\n" << table;
}

// Proves list --json shows every complete step with its region, shape and dependencies.
TEST(CheckpointCommands, ListShowsStepsAndRegions) {
  auto dir = make_checkpoints("list");
  auto r = run_command(strata_cli + " ckpt list --json " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[2]["step"], 3);
  EXPECT_EQ(j[2]["regions"][0]["name"], "temperature");
  EXPECT_EQ(j[2]["regions"][0]["global_shape"], json::array({64, 100}));
  EXPECT_EQ(j[2]["raw_bytes"], 64 * 100 * 8);
  auto text = run_command(strata_cli + " ckpt list " + dir);
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("temperature f64[64, 100]"), std::string::npos) << text.out;
  fs::remove_all(dir);
}

// Proves verify passes a good step and fails, naming the shard, after one byte changes.
TEST(CheckpointCommands, VerifyFindsAFlippedByte) {
  auto dir = make_checkpoints("verify");
  auto good = run_command(strata_cli + " ckpt verify " + dir);
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("step 3: ok"), std::string::npos);
  {
    std::fstream f(dir + "/step-00000002/shard-00000.sck", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x01');
  }
  auto bad = run_command(strata_cli + " ckpt verify --step 2 " + dir);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("shard-00000.sck"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("SHA-256"), std::string::npos) << bad.err;
  fs::remove_all(dir);
}

// Proves verify without --step checks the newest step even when its manifest is damaged (and
// fails naming it) instead of passing over it to an older good step.
TEST(CheckpointCommands, VerifyReportsADamagedNewestManifest) {
  auto dir = make_checkpoints("verify-manifest");
  std::ofstream(dir + "/step-00000003/manifest.json", std::ios::trunc) << "{\"sha256\": ";
  auto r = run_command(strata_cli + " ckpt verify " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("step 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("manifest"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("ok"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

// Proves every ckpt subcommand refuses a folder that does not exist (exit 2, the folder named)
// instead of printing an empty listing or "nothing to remove".
TEST(CheckpointCommands, MissingFolderIsACommandLineError) {
  const std::string missing = "/nonexistent-strata-ckpt-folder";
  for (const std::string sub : {"list ", "verify ", "prune --keep 1 ", "export --hdf5 /tmp/x.h5 "}) {
    auto r = run_command(strata_cli + " ckpt " + sub + missing);
    EXPECT_EQ(r.exit_code, 2) << sub << r.out;
    EXPECT_NE(r.err.find(missing), std::string::npos) << sub << r.err;
  }
}

// Proves export writes the global array to HDF5 with the saved values (read back via the C API),
// refuses an existing output without --overwrite and a folder even with it, and a failed export
// leaves no file.
TEST(CheckpointCommands, ExportWritesTheGlobalArrayToHdf5) {
  auto dir = make_checkpoints("export");
  const std::string h5 = dir + ".h5";
  fs::remove(h5);
  auto r = run_command(strata_cli + " ckpt export " + dir + " --step 2 --hdf5 " + h5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  hid_t file = H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  hid_t ds = H5Dopen2(file, "/temperature", H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  std::vector<double> back(64 * 100);
  ASSERT_GE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back.data()), 0);
  H5Dclose(ds);
  H5Fclose(file);
  for (std::size_t i = 0; i < back.size(); ++i) ASSERT_EQ(back[i], 2e6 + static_cast<double>(i)) << i;
  auto again = run_command(strata_cli + " ckpt export " + dir + " --hdf5 " + h5);
  EXPECT_EQ(again.exit_code, 1) << "an existing output is not replaced without --overwrite";
  EXPECT_NE(again.err.find("pass --overwrite"), std::string::npos) << again.err;
  auto folder = run_command(strata_cli + " ckpt export " + dir + " --hdf5 " + dir + " --overwrite");
  EXPECT_EQ(folder.exit_code, 1) << "a folder is never replaced";
  EXPECT_NE(folder.err.find("not a regular file"), std::string::npos) << folder.err;
  EXPECT_TRUE(fs::is_directory(dir));
  fs::remove(h5);
  auto none = run_command(strata_cli + " ckpt export " + dir + " --region nosuch --hdf5 " + h5);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("nothing to export"), std::string::npos) << none.err;
  EXPECT_FALSE(fs::exists(h5));
  const std::string hidden = "." + fs::path(h5).filename().string() + ".tmp-";
  for (const auto& e : fs::directory_iterator(fs::path(h5).parent_path())) {
    EXPECT_NE(e.path().filename().string().rfind(hidden, 0), 0u)
        << "a failed export leaves no partial file: " << e.path();
  }
  fs::remove_all(dir);
}

// Proves ckpt export streams a region: exporting a 512 MiB region keeps the command's peak
// resident memory under 256 MiB (before: the whole region was read into memory first, over
// 512 MiB), and the exported values are the saved ones.
TEST(CheckpointCommands, ExportStreamsInBoundedMemory) {
  const std::string dir =
      (fs::temp_directory_path() / ("strata-cli-ckpt-" + std::to_string(getpid()) + "-stream"))
          .string();
  fs::remove_all(dir);
  constexpr std::size_t kRows = 8192, kCols = 8192;  // 512 MiB of f64
  {
    strata::Executor ex(runtime(), {.threads = 1});
    std::vector<double> field(kRows * kCols);
    for (std::size_t i = 0; i < field.size(); ++i) field[i] = static_cast<double>(i % 1000);
    strata::io::Checkpointer ck(runtime(), ex, {.dir = dir, .keep = 1});
    ck.protect("big", std::span(field), {strata::Shape{kRows, kCols}, 0});
    ck.save(1);
    ck.wait();
  }
  const std::string h5 = dir + ".h5";
  fs::remove(h5);
  // The command's own high-water mark (VmHWM), read while it runs: getrusage would also count the
  // pages a fork of this large test process starts with.
  const pid_t pid = fork();
  if (pid == 0) {
    execl(strata_cli.c_str(), strata_cli.c_str(), "ckpt", "export", dir.c_str(), h5.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  long peak_kib = 0;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    std::ifstream proc("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(proc, line);) {
      if (line.rfind("VmHWM:", 0) == 0) peak_kib = std::max(peak_kib, std::stol(line.substr(6)));
    }
    usleep(2000);
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 256 * 1024) << "peak resident KiB of ckpt export";
  hid_t file = H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  hid_t ds = H5Dopen2(file, "/big", H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  std::vector<double> back(kRows * kCols);
  ASSERT_GE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back.data()), 0);
  H5Dclose(ds);
  H5Fclose(file);
  for (std::size_t i = 0; i < back.size(); i += 4099) {
    ASSERT_EQ(back[i], static_cast<double>(i % 1000)) << i;
  }
  ASSERT_EQ(back.back(), static_cast<double>((back.size() - 1) % 1000));
  fs::remove(h5);
  fs::remove_all(dir);
}

// Proves `ckpt export DIR OUT.h5` takes the output as a positional, as `export` does (before:
// "--hdf5 is required"), and that naming none is one clear line.
TEST(CheckpointCommands, ExportTakesThePositionalOutput) {
  auto dir = make_checkpoints("export-positional");
  const std::string h5 = dir + ".h5";
  fs::remove(h5);
  auto r = run_command(strata_cli + " ckpt export " + dir + " " + h5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(h5));
  auto none = run_command(strata_cli + " ckpt export " + dir);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(strata::test::count_lines(none.err), 1) << none.err;
  EXPECT_NE(none.err.find("name the HDF5 file to write"), std::string::npos) << none.err;
  fs::remove(h5);
  fs::remove_all(dir);
}

// Proves `ckpt verify --step 55` and `ckpt export --step 55` for a step the folder lacks list the
// steps it has (before: "manifest missing or unreadable").
TEST(CheckpointCommands, AMissingStepListsTheStepsThere) {
  auto dir = make_checkpoints("missing-step");
  for (const std::string command : {" ckpt verify --step 55 ", " ckpt export --step 55 "}) {
    const bool writes = command.find("export") != std::string::npos;
    auto r = run_command(strata_cli + command + dir + (writes ? " " + dir + ".h5" : ""));
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(strata::test::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("no checkpoint of step 55 in the folder; its steps are 1, 2, 3"),
              std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(fs::exists(dir + ".h5"));
  fs::remove_all(dir);
}

// Proves prune keeps the newest --keep steps and removes the rest.
TEST(CheckpointCommands, PruneKeepsTheNewest) {
  auto dir = make_checkpoints("prune");
  auto r = run_command(strata_cli + " ckpt prune " + dir + " --keep 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/step-00000001"));
  EXPECT_FALSE(fs::exists(dir + "/step-00000002"));
  EXPECT_TRUE(fs::exists(dir + "/step-00000003/manifest.json"));
  auto bad = run_command(strata_cli + " ckpt prune " + dir + " --keep 0");
  EXPECT_EQ(bad.exit_code, 2);
  fs::remove_all(dir);
}

// Proves a manifest nested 100,000 deep, a FIFO and a link to /dev/zero as manifest are each a
// warning naming step 3 (list) or a clean error (verify, exit 1) — no crash, hang or memory blow-up
// — and export falls back to step 2.
TEST(CheckpointCommands, HostileManifestsAreCleanErrors) {
  auto dir = make_checkpoints("hostile");
  const std::string manifest = dir + "/step-00000003/manifest.json";
  for (const std::string kind : {"nested", "fifo", "zero"}) {
    fs::remove(manifest);
    if (kind == "nested") {
      std::ofstream(manifest) << std::string(100000, '[') << std::string(100000, ']');
    } else if (kind == "fifo") {
      ASSERT_EQ(mkfifo(manifest.c_str(), 0600), 0);
    } else {
      fs::create_symlink("/dev/zero", manifest);
    }
    auto list = run_command("timeout 30 " + strata_cli + " ckpt list --json " + dir);
    EXPECT_EQ(list.exit_code, 0) << kind << list.err;
    EXPECT_NE(list.err.find("step 3"), std::string::npos) << kind << list.err;
    auto verify = run_command("timeout 30 " + strata_cli + " ckpt verify " + dir);
    EXPECT_EQ(verify.exit_code, 1) << kind << verify.err;
    EXPECT_NE(verify.err.find("step 3"), std::string::npos) << kind << verify.err;
    const std::string h5 = dir + "-" + kind + ".h5";
    auto exp = run_command("timeout 30 " + strata_cli + " ckpt export " + dir + " --hdf5 " + h5);
    EXPECT_EQ(exp.exit_code, 0) << kind << exp.err;
    EXPECT_NE(exp.out.find("step 2"), std::string::npos) << kind << exp.out;
    fs::remove(h5);
  }
  fs::remove_all(dir);
}

// Proves folders named like steps but not canonically (step-3, step-000000003) are not steps:
// list shows each step once, and prune --keep 2 keeps the two real newest steps.
TEST(CheckpointCommands, OnlyCanonicalFolderNamesAreSteps) {
  auto dir = make_checkpoints("stray");
  fs::create_directory(dir + "/step-3");
  fs::create_directory(dir + "/step-000000003");
  auto list = run_command(strata_cli + " ckpt list --json " + dir);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(json::parse(list.out).size(), 3u) << list.out;
  auto prune = run_command(strata_cli + " ckpt prune " + dir + " --keep 2");
  EXPECT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_TRUE(fs::exists(dir + "/step-00000002/manifest.json"));
  EXPECT_TRUE(fs::exists(dir + "/step-00000003/manifest.json"));
  EXPECT_FALSE(fs::exists(dir + "/step-00000001"));
  EXPECT_TRUE(fs::exists(dir + "/step-3")) << "prune never touches what is not a step";
  fs::remove_all(dir);
}

// Proves export with a damaged newest step warns naming the step it skipped and why, names the
// step it exported on stdout, and records it in the HDF5 file's root attributes.
TEST(CheckpointCommands, ExportNamesTheStepItExportsAndWhatItSkipped) {
  auto dir = make_checkpoints("export-fallback");
  std::ofstream(dir + "/step-00000003/manifest.json", std::ios::trunc) << "garbage\n";
  const std::string h5 = dir + ".h5";
  fs::remove(h5);
  auto r = run_command(strata_cli + " ckpt export " + dir + " --hdf5 " + h5);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: step 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("manifest"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("step 2"), std::string::npos) << r.out;
  hid_t file = H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  hid_t attr = H5Aopen(file, "strata.checkpoint.step", H5P_DEFAULT);
  ASSERT_GE(attr, 0) << "the exported step is recorded as a root attribute";
  hid_t type = H5Aget_type(attr);
  char* text = nullptr;
  ASSERT_GE(H5Aread(attr, type, &text), 0);
  EXPECT_STREQ(text, "2");
  H5free_memory(text);
  H5Tclose(type);
  H5Aclose(attr);
  H5Fclose(file);
  fs::remove(h5);
  fs::remove_all(dir);
}

// Proves a step whose folder cannot be examined (here a manifest that is a symbolic link loop;
// for a user, a folder without permission) is skipped with a warning by list, export and prune.
TEST(CheckpointCommands, AnUnreadableStepIsSkippedWithAWarning) {
  auto dir = make_checkpoints("unreadable");
  const std::string manifest = dir + "/step-00000003/manifest.json";
  fs::remove(manifest);
  fs::create_symlink("manifest.json", manifest);
  auto list = run_command(strata_cli + " ckpt list --json " + dir);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.err.find("step 3"), std::string::npos) << list.err;
  EXPECT_EQ(json::parse(list.out.empty() ? "[]" : list.out).size(), 2u) << list.out;
  const std::string h5 = dir + ".h5";
  auto exp = run_command(strata_cli + " ckpt export " + dir + " --hdf5 " + h5);
  EXPECT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_NE(exp.out.find("step 2"), std::string::npos) << exp.out;
  fs::remove(h5);
  auto prune = run_command(strata_cli + " ckpt prune " + dir + " --keep 1");
  EXPECT_EQ(prune.exit_code, 0) << prune.err;
  if (geteuid() != 0) {  // root reads any folder: the permission case only for other users
    fs::remove(manifest);
    fs::create_directory(dir + "/step-00000004");
    fs::permissions(dir + "/step-00000004", fs::perms::none);
    auto locked = run_command(strata_cli + " ckpt list " + dir);
    EXPECT_EQ(locked.exit_code, 0) << locked.err;
    EXPECT_NE(locked.err.find("step 4"), std::string::npos) << locked.err;
    fs::permissions(dir + "/step-00000004", fs::perms::owner_all);
  }
  fs::remove_all(dir);
}

// Proves a shard copied from another step under a resealed manifest (every checksum consistent)
// is refused by export, naming the shard header's step field, instead of exporting the wrong data.
TEST(CheckpointCommands, AShardFromAnotherStepIsRefused) {
  auto dir = make_checkpoints("foreign-shard");
  // The JSON line and the rank table after it (format 4), which holds no step number.
  const std::string text = slurp_file(dir + "/step-00000002/manifest.json");
  const std::size_t line_end = text.find('\n');
  json whole = json::parse(text.substr(0, line_end));
  whole["manifest"]["step"] = 3;  // (the chunk entries, naming step 2, are in the shard's index)
  write_resealed(dir + "/step-00000003/manifest.json", whole, text.substr(line_end + 1));
  fs::copy_file(dir + "/step-00000002/shard-00000.sck", dir + "/step-00000003/shard-00000.sck",
                fs::copy_options::overwrite_existing);
  const std::string h5 = dir + ".h5";
  auto r = run_command(strata_cli + " ckpt export " + dir + " --step 3 --hdf5 " + h5);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("step"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("shard-00000.sck"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(h5));
  fs::remove(h5);
  fs::remove_all(dir);
}

}  // namespace
