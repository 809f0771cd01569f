// SPDX-License-Identifier: Apache-2.0
// Tests that the scheduler's chunk consumers turn a mapped file truncated under them into a
// strata::Error naming the file: the reduction kernels, transform, and resident loading.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/scratch_folder.hpp"
#include "strata/kernels/stats.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_file.hpp"
#include "strata/runtime/memory/memory_manager.hpp"
#include "strata/scheduler/parallel.hpp"
#include "strata/scheduler/resident.hpp"

namespace {

namespace fs = std::filesystem;

// A mapped file of 1.0 doubles, truncated to one page after its view was taken.
class MappedTruncation : public ::testing::Test {
 protected:
  static constexpr std::size_t kValues = 64 * 512;  // 64 pages
  void SetUp() override {
    path_ = strata::test::scratch_path("strata-sched-trunc").string();
    std::vector<double> ones(kValues, 1.0);
    std::ofstream(path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(ones.data()),
               static_cast<std::streamsize>(kValues * 8));
    file_ = strata::MappedFile::open(path_);
    bytes_ = file_.bytes(0, file_.size());
    values_ = {reinterpret_cast<const double*>(bytes_.data()), kValues};
    fs::resize_file(path_, 4096);
  }
  void TearDown() override { fs::remove(path_); }
  void expect_truncation_error(const std::function<void()>& run) {
    try {
      run();
      ADD_FAILURE() << "read a truncated mapping without an error";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), strata::ErrorCategory::corrupt_data) << e.what();
      EXPECT_EQ(e.context_value("file"), path_) << e.what();
    }
  }

  std::string path_;
  strata::MappedFile file_;
  std::span<const std::byte> bytes_;
  std::span<const double> values_;
  strata::Topology topology_ = strata::Topology::synthetic("pack:2 numa:1 core:2 pu:1");
};

// Proves reduce() over a mapped span throws an Error naming the file when the file was truncated
// after mapping (it died of SIGBUS), with 1 and 4 threads.
TEST_F(MappedTruncation, ReduceThrowsInsteadOfSigbus) {
  for (unsigned threads : {1u, 4u}) {
    strata::Executor ex(topology_, {.threads = threads, .chunk_bytes = 4096});
    expect_truncation_error([&] { (void)strata::reduce(ex, values_, strata::kernels::Stats{}); });
  }
}

// Proves transform() reading a truncated mapped input throws an Error naming the file.
TEST_F(MappedTruncation, TransformThrowsInsteadOfSigbus) {
  strata::Executor ex(topology_, {.threads = 2, .chunk_bytes = 4096});
  std::vector<double> out(kValues);
  expect_truncation_error(
      [&] { strata::transform(ex, values_, out, [](double x) { return x * 2; }); });
}

// Proves loading a truncated mapped source resident throws an Error naming the file.
TEST_F(MappedTruncation, LoadResidentThrowsInsteadOfSigbus) {
  strata::Executor ex(topology_, {.threads = 2, .chunk_bytes = 4096});
  strata::MemoryManager memory(topology_);
  expect_truncation_error([&] {
    (void)strata::load_resident(ex, memory, "x", strata::DType::f64, {kValues},
                                strata::ByteSource::from_memory(bytes_));
  });
}

}  // namespace
