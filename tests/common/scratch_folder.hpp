// SPDX-License-Identifier: Apache-2.0
// Per-test scratch space under the system's temporary folder, named for the process and the
// running test so parallel ctest runs never share it: the one fixture every file-writing test
// derives from.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace strata::test {

// <temp>/<prefix>-<pid>-<test name>.
inline std::filesystem::path scratch_path(const std::string& prefix) {
  return std::filesystem::temp_directory_path() /
         (prefix + "-" + std::to_string(::getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

// A fresh, empty folder for each test (dir_), removed afterwards; path(name) names a file in it.
class ScratchFolderTest : public ::testing::Test {
 protected:
  explicit ScratchFolderTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    dir_ = scratch_path(prefix_);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;

 private:
  std::string prefix_;
};

}  // namespace strata::test
