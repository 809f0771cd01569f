// SPDX-License-Identifier: Apache-2.0
// Tests of open_regular_file: a FIFO, a folder or a device is refused at once, naming the file and
// what it is, without blocking on the open; a regular file opens as a normal blocking descriptor.
#include "strata/runtime/files/regular_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "strata/runtime/base/error.hpp"

namespace {

namespace fs = std::filesystem;

// Expects open_regular_file(path) to throw Error(io) whose message names `kind`.
void expect_refused(const std::string& path, const std::string& kind) {
  try {
    ::close(strata::open_regular_file(path, O_RDONLY));
    ADD_FAILURE() << "opened " << path;
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::io) << e.what();
    EXPECT_NE(e.message().find(kind), std::string::npos) << e.what();
    EXPECT_EQ(e.context_value("file"), path);
  }
}

// Proves a FIFO with no writer (an open would block forever), a folder and a character device are
// refused, and that a regular file opens without O_NONBLOCK left set.
TEST(RegularFile, RefusesWhatIsNotARegularFile) {
  const fs::path dir = fs::temp_directory_path() / ("strata-regular-" + std::to_string(getpid()));
  fs::create_directories(dir);
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);
  expect_refused((dir / "pipe").string(), "FIFO");
  expect_refused(dir.string(), "folder");
  expect_refused("/dev/null", "character device");
  std::ofstream(dir / "plain") << "data";
  const int fd = strata::open_regular_file((dir / "plain").string(), O_RDONLY);
  EXPECT_EQ(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  ::close(fd);
  EXPECT_THROW(strata::check_regular_file((dir / "absent").string()), strata::Error);
  fs::remove_all(dir);
}

}  // namespace
