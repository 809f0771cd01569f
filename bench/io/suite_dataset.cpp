// SPDX-License-Identifier: Apache-2.0
// Makes the io suite's dataset (suite_dataset.hpp): generate, export to HDF5, open, unlink, map
// and verify, then draw the random reads. Everything here runs once, before the first case.
#include "suite_dataset.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "common/read_loop.hpp"
#include "io_settings.hpp"
#include "strata/io/dataset/synthetic.hpp"
#include "strata/runtime/base/dtype.hpp"

namespace strata::bench::io {

unlinked_file::unlinked_file(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const int open_errno = errno;
  ::unlink(path.c_str());
  if (fd_ < 0) {
    throw std::system_error(open_errno, std::generic_category(), "io bench: cannot open " + path);
  }
}

unlinked_file::unlinked_file(unlinked_file&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

unlinked_file& unlinked_file::operator=(unlinked_file&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

unlinked_file::~unlinked_file() {
  if (fd_ >= 0) ::close(fd_);
}

std::string unlinked_file::proc_path() const { return "/proc/self/fd/" + std::to_string(fd_); }

namespace {

std::string scratch_base() {
  const char* dir = std::getenv("TMPDIR");
  return (dir != nullptr && *dir != '\0') ? dir : "/tmp";
}

// A fresh folder for the two files, removed with whatever is in it on every way out of the
// constructor: by then the files are open and unlinked, or half-written and worth nothing.
class scratch_folder {
 public:
  scratch_folder() : path_(scratch_base() + "/strata_bench_io.XXXXXX") {
    if (::mkdtemp(path_.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "io bench: cannot create " + path_);
    }
  }
  ~scratch_folder() {
    std::error_code ignored;  // nothing useful to do about a folder we cannot remove
    std::filesystem::remove_all(path_, ignored);
  }
  scratch_folder(const scratch_folder&) = delete;
  scratch_folder& operator=(const scratch_folder&) = delete;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace

suite_dataset::suite_dataset() {
  {
    const scratch_folder folder;
    const std::string strata_name = folder.path() + "/values.strata";
    const std::string hdf5_name = folder.path() + "/values.h5";
    strata::io::generate_dataset(strata_name, {.kind = strata::io::SyntheticKind::uniform,
                                               .bytes = dataset_bytes,
                                               .dtype = DType::f64,
                                               .seed = 1});
    strata::io::export_strata(strata_name, hdf5_name);
    hdf5_values_.emplace(strata::io::Hdf5Dataset::open(hdf5_name + ":/values"));
    strata_ = unlinked_file(strata_name);
  }  // the folder goes, with the HDF5 file's name; HDF5 keeps the file open
  strata_path_ = strata_.proc_path();

  file_.emplace(strata::io::StrataFile::open(strata_path_));
  values_ = file_->array("values");
  if (values_.dtype != DType::f64 || values_.data_bytes != dataset_bytes) {
    throw std::runtime_error("io bench: generate_dataset did not write 1 GiB of f64 \"values\"");
  }
  // The one call the cases' mapped view comes from: it checks every chunk against its checksum
  // now, so no timed scan pays for the lazy verification.
  const std::span<const std::byte> bytes = file_->bytes(values_, 0, values_.data_bytes);
  values_view_ = {reinterpret_cast<const double*>(bytes.data()), bytes.size() / sizeof(double)};
  values_sum_ = sum_doubles(values_view_);

  std::mt19937_64 rng(random_seed);
  std::uniform_int_distribution<std::uint64_t> element(0, values_view_.size() - 1);
  random_elements_.resize(random_reads);
  std::generate(random_elements_.begin(), random_elements_.end(), [&] { return element(rng); });
  random_sum_ =
      std::accumulate(random_elements_.begin(), random_elements_.end(), 0.0,
                      [this](double sum, std::uint64_t e) { return sum + values_view_[e]; });
}

bool suite_dataset::pread_values(std::uint64_t offset, std::span<std::byte> out) const noexcept {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(strata_.fd(), out.data() + done, out.size() - done,
                              static_cast<off_t>(values_.data_offset + offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

const suite_dataset& dataset() {
  static const suite_dataset made;
  return made;
}

bool sum_matches(benchmark::State& state, std::optional<double> sum, double expected) {
  if (!sum) {
    state.SkipWithError("a read of the dataset failed");
    return false;
  }
  if (std::abs(*sum - expected) > 1e-9 * std::abs(expected)) {
    const std::string message = "the pass summed to " + std::to_string(*sum) + ", not " +
                                std::to_string(expected) + ": it read the wrong bytes";
    state.SkipWithError(message.c_str());  // copied by Google Benchmark
    return false;
  }
  return true;
}

}  // namespace strata::bench::io
