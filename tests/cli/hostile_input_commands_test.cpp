// SPDX-License-Identifier: Apache-2.0
// Tests of the commands on hostile input as a user meets it: HDF5 external storage, huge thread
// counts, a huge never-written HDF5 dataset, non-UTF-8 and terminal-control text in files, a full
// disk, and outputs that would replace their input or a file strata did not write. Every case is
// one line on stderr and an exit code below 128, or a correct result.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/scratch_folder.hpp"
#include "common/unwritten_hdf5.hpp"
#include "run_command.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/format/strata_writer.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using strata::test::count_lines;
using strata::test::run_command;
using strata::test::slurp;

const std::string strata_cli = STRATA_CLI_PATH;

class HostileInputCommands : public strata::test::ScratchFolderTest {
 protected:
  HostileInputCommands() : ScratchFolderTest("strata-cli-hostile") {}

  // Expects a failure reported as one stderr line with an exit code of 1 (no crash).
  static void expect_one_line_error(const strata::test::CommandResult& r, const std::string& what) {
    EXPECT_EQ(r.exit_code, 1) << what << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << what << ": " << r.err;
  }

};

// Proves `strata import` refuses a dataset whose bytes are in another file (HDF5 external
// storage: it copied /etc/hostname into the output) with one line naming that file and writes
// nothing; with --allow-external it imports and inspect shows the file in the provenance.
TEST_F(HostileInputCommands, ImportRefusesExternalStorageUnlessAllowed) {
  { std::ofstream(path("secret.txt")) << "top secret bytes"; }
  {
    hid_t f = H5Fcreate(path("evil.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 16;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ASSERT_GE(H5Pset_external(dcpl, path("secret.txt").c_str(), 0, 16), 0);
    H5Dclose(H5Dcreate2(f, "/d", H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    H5Pclose(dcpl);
    H5Sclose(space);
    ASSERT_GE(H5Fclose(f), 0);
  }
  auto r = run_command(strata_cli + " import " + path("evil.h5") + ":/d " + path("out.strata"));
  expect_one_line_error(r, "external storage");
  EXPECT_NE(r.err.find(path("secret.txt")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-external"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("out.strata")));
  r = run_command(strata_cli + " stats " + path("evil.h5") + ":/d");
  expect_one_line_error(r, "stats on external storage");

  r = run_command(strata_cli + " import --allow-external " + path("evil.h5") + ":/d " +
                  path("out.strata"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(strata_cli + " inspect --json " + path("out.strata"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["metadata"]["source.external_files"], path("secret.txt"));
}

// Proves every command taking --threads refuses an absurd count with one line, as stats does
// (gen --threads 100000 died with SIGSEGV in oneTBB).
TEST_F(HostileInputCommands, AbsurdThreadCountsAreOneLineErrors) {
  ASSERT_EQ(run_command(strata_cli + " gen " + path("a.strata") + " --size 64K").exit_code, 0);
  for (const std::string& args : {" gen " + path("b.strata") + " --size 64K --threads 100000",
                                  " verify " + path("a.strata") + " --threads 100000",
                                  " stats " + path("a.strata") + " --threads 100000",
                                  " hist " + path("a.strata") + " --range 0 1 --threads 100000"}) {
    auto r = run_command(strata_cli + args);
    expect_one_line_error(r, args);
    EXPECT_NE(r.err.find("threads"), std::string::npos) << args << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(path("b.strata")));
  auto r = run_command("STRATA_THREADS=100000 " + strata_cli + " gen " + path("b.strata") +
                       " --size 64K");
  expect_one_line_error(r, "STRATA_THREADS");
}

// Proves stats on a 10^12-element HDF5 dataset that was never written (a tiny file) refuses with
// the bytes needed and available instead of std::bad_alloc.
TEST_F(HostileInputCommands, StatsOnAHugeUnwrittenHdf5DatasetStatesTheMemory) {
  strata::test::write_unwritten_hdf5(path("huge.h5"), "/huge", 1000000000000ull);
  auto r = run_command(strata_cli + " stats " + path("huge.h5") + ":/huge");
  expect_one_line_error(r, "huge dataset");
  EXPECT_NE(r.err.find("bytes_needed=8000000000000"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bytes_available="), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos) << r.err;
}

// Proves metadata that is not UTF-8 (allowed for values) gives valid JSON, not a json exception,
// and that ESC and CR in keys and values reach the terminal escaped, never raw.
TEST_F(HostileInputCommands, UntrustedTextIsValidJsonAndEscapedOnTheTerminal) {
  {
    strata::io::StrataWriter w(path("t.strata"),
                               {{"values", strata::DType::u8, strata::Shape{8}, 4096}},
                               {{"blob", "\xff\xfe raw"}, {"k\x1b[31m", "v\r\x1b[2Jx"}});
    w.append(0, std::vector<std::byte>(8));
    w.finish();
  }
  auto r = run_command(strata_cli + " inspect --json " + path("t.strata"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);  // throws (and fails the test) on invalid JSON
  EXPECT_EQ(j["metadata"]["blob"], "\xef\xbf\xbd\xef\xbf\xbd raw");  // U+FFFD twice
  r = run_command(strata_cli + " inspect " + path("t.strata"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("k\\x1b[31m = v\\r\\x1b[2Jx"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blob = \\xff\\xfe raw"), std::string::npos) << r.out;
}

// Proves import and export refuse an output that is their own input, by any spelling or through
// a symlink, even with --overwrite, and leave the input as it was.
TEST_F(HostileInputCommands, AnOutputThatIsTheInputIsRefused) {
  ASSERT_EQ(run_command(strata_cli + " gen " + path("a.strata") + " --size 64K").exit_code, 0);
  ASSERT_EQ(run_command(strata_cli + " export " + path("a.strata") + " " + path("a.h5")).exit_code,
            0);
  fs::create_symlink(path("a.h5"), path("link.h5"));
  const std::string h5_before = slurp(path("a.h5"));
  const std::string strata_before = slurp(path("a.strata"));
  const std::string respelled = (dir_ / "." / "a.h5").string();
  for (const std::string& args :
       {" import " + path("a.h5") + ":/values " + path("a.h5"),
        " import " + path("a.h5") + ":/values " + respelled + " --overwrite",
        " import " + path("link.h5") + ":/values " + path("a.h5") + " --overwrite",
        " export " + path("a.strata") + " " + (dir_ / "." / "a.strata").string() +
            " --overwrite"}) {
    auto r = run_command(strata_cli + args);
    expect_one_line_error(r, args);
    EXPECT_NE(r.err.find("is the input"), std::string::npos) << args << ": " << r.err;
  }
  EXPECT_EQ(slurp(path("a.h5")), h5_before);
  EXPECT_EQ(slurp(path("a.strata")), strata_before);
}

// Proves gen, import and export refuse every existing output without --overwrite (a text file, a
// .strata file, an HDF5 file strata exported or not) in one line naming --overwrite and what the
// file is, leaving it as it was; replace it with --overwrite; never replace a folder; and say
// --overwrite in --help. Fails if any of them replaces a file silently.
TEST_F(HostileInputCommands, NoOutputIsReplacedWithoutOverwrite) {
  { std::ofstream(path("notes.txt")) << "precious notes\n"; }
  ASSERT_EQ(run_command(strata_cli + " gen " + path("a.strata") + " --size 64K").exit_code, 0);
  auto r = run_command(strata_cli + " gen " + path("notes.txt") + " --size 64K");
  expect_one_line_error(r, "gen over a text file");
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a file strata did not write"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(path("notes.txt")), "precious notes\n");
  r = run_command(strata_cli + " gen " + path("a.strata") + " --size 128K --seed 2");
  expect_one_line_error(r, "gen over a .strata file");
  EXPECT_NE(r.err.find("a .strata file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(strata::io::StrataFile::open(path("a.strata")).array("values").data_bytes, 64u << 10);
  EXPECT_EQ(
      run_command(strata_cli + " gen " + path("a.strata") + " --size 128K --seed 2 --overwrite")
          .exit_code,
      0);
  EXPECT_EQ(strata::io::StrataFile::open(path("a.strata")).array("values").data_bytes, 128u << 10);

  ASSERT_EQ(run_command(strata_cli + " export " + path("a.strata") + " " + path("a.h5")).exit_code,
            0);
  r = run_command(strata_cli + " import " + path("a.h5") + ":/values " + path("notes.txt"));
  expect_one_line_error(r, "import over a text file");
  EXPECT_EQ(slurp(path("notes.txt")), "precious notes\n");
  ASSERT_EQ(run_command(strata_cli + " gen " + path("b.strata") + " --size 64K").exit_code, 0);
  const std::string b_before = slurp(path("b.strata"));
  r = run_command(strata_cli + " import " + path("a.h5") + ":/values " + path("b.strata"));
  expect_one_line_error(r, "import over a .strata file");
  EXPECT_EQ(slurp(path("b.strata")), b_before);
  EXPECT_EQ(run_command(strata_cli + " import " + path("a.h5") + ":/values " + path("b.strata") +
                        " --overwrite")
                .exit_code,
            0);
  EXPECT_EQ(strata::io::StrataFile::open(path("b.strata")).array("values").data_bytes, 128u << 10);
  r = run_command(strata_cli + " export " + path("a.strata") + " " + path("notes.txt"));
  expect_one_line_error(r, "export over a text file");
  EXPECT_EQ(slurp(path("notes.txt")), "precious notes\n");
  {  // An HDF5 file strata did not write.
    hid_t f = H5Fcreate(path("theirs.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(H5Fclose(f), 0);
  }
  r = run_command(strata_cli + " export " + path("a.strata") + " " + path("theirs.h5"));
  expect_one_line_error(r, "export over another HDF5 file");
  const std::string h5_before = slurp(path("a.h5"));
  r = run_command(strata_cli + " export " + path("a.strata") + " " + path("a.h5"));
  expect_one_line_error(r, "export over an HDF5 file strata exported");
  EXPECT_NE(r.err.find("an HDF5 file strata exported"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(path("a.h5")), h5_before);
  EXPECT_EQ(
      run_command(strata_cli + " export " + path("a.strata") + " " + path("a.h5") + " --overwrite")
          .exit_code,
      0);
  r = run_command(strata_cli + " gen " + dir_.string() + " --size 64K --overwrite");
  expect_one_line_error(r, "gen over a folder");

  EXPECT_EQ(
      run_command(strata_cli + " gen " + path("notes.txt") + " --size 64K --overwrite").exit_code,
      0);
  EXPECT_TRUE(strata::io::is_strata_file(path("notes.txt")));
  EXPECT_EQ(run_command(strata_cli + " export " + path("a.strata") + " " + path("theirs.h5") +
                        " --overwrite")
                .exit_code,
            0);
  for (const char* command : {"gen", "import", "export"}) {
    r = run_command(strata_cli + " " + command + " --help");
    EXPECT_NE(r.out.find("--overwrite"), std::string::npos) << command << r.out;
  }
}

// Proves export to a full disk says so: the reason (ENOSPC's text) and the resource category,
// not only "cannot write the dataset" — compressed, whose size is not known before the write;
// uncompressed, it is refused before any work, naming both sizes. Needs root to mount a small
// tmpfs; skipped otherwise.
TEST_F(HostileInputCommands, ExportToAFullDiskSaysTheDiskIsFull) {
  ASSERT_EQ(run_command(strata_cli + " gen " + path("big.strata") + " --size 4M").exit_code, 0);
  const std::string mount_point = path("small-disk");
  fs::create_directories(mount_point);
  if (run_command("mount -t tmpfs -o size=1m tmpfs " + mount_point).exit_code != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (root needed)";
  }
  const auto first = run_command(strata_cli + " export " + path("big.strata") + " " +
                                 mount_point + "/out.h5");
  auto r = run_command(strata_cli + " export --gzip 1 " + path("big.strata") + " " +
                       mount_point + "/out.h5");
  const auto listing = run_command("ls -A " + mount_point);
  run_command("umount " + mount_point);
  expect_one_line_error(first, "uncompressed export larger than the disk's free space");
  EXPECT_NE(first.err.find("resource: not enough free space for the output: it needs about "
                           "4.00 MiB, the file system has 1.00 MiB free"),
            std::string::npos)
      << first.err;
  expect_one_line_error(r, "export to a full disk");
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resource"), std::string::npos) << r.err;
  EXPECT_EQ(listing.out, "") << "left behind on the full disk";
}

}  // namespace
