// SPDX-License-Identifier: Apache-2.0
// Makes the resident suite's state (resident_suite.hpp): generate, open, unlink, map, load the
// resident copy, draw the random reads. Everything here runs once, before the first case.
#include "resident_suite.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <system_error>

#include "resident_settings.hpp"
#include "strata/io/dataset/synthetic.hpp"
#include "strata/io/format/strata_file.hpp"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace strata::bench::resident {
namespace {

std::unique_ptr<resident_suite> the_suite;

std::string scratch_base() {
  const char* dir = std::getenv("TMPDIR");
  return (dir != nullptr && *dir != '\0') ? dir : "/tmp";
}

}  // namespace

resident_suite& suite() { return *the_suite; }
void make_suite(std::uint64_t dataset_bytes) {
  the_suite = std::make_unique<resident_suite>(dataset_bytes);
}
void release_suite() { the_suite.reset(); }

resident_suite::resident_suite(std::uint64_t dataset_bytes) {
  RuntimeOptions options;
  options.install_stop_signals = false;  // main's huge-page reservation owns SIGTERM
  runtime_.emplace(options);
  executor_.emplace(*runtime_);
  {
    std::string folder = scratch_base() + "/strata_bench_resident.XXXXXX";
    if (::mkdtemp(folder.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(),
                              "resident bench: cannot create " + folder);
    }
    const std::string name = folder + "/values.strata";
    try {
      io::generate_dataset(name, {.kind = io::SyntheticKind::uniform,
                                  .bytes = dataset_bytes,
                                  .dtype = DType::f64,
                                  .seed = 1});
      fd_ = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove_all(folder, ignored);
      throw;
    }
    const int open_errno = errno;
    std::error_code ignored;  // the file lives on through fd_; nothing is left behind
    std::filesystem::remove_all(folder, ignored);
    if (fd_ < 0)
      throw std::system_error(open_errno, std::generic_category(), "resident bench: open");
  }
  path_ = "/proc/self/fd/" + std::to_string(fd_);
  dataset_.emplace(io::Dataset::open(path_));
  {
    const io::StrataFile file = io::StrataFile::open(path_);
    const io::ArrayInfo values = file.array("values");
    data_offset_ = values.data_offset;
    dataset_bytes_ = values.data_bytes;
  }
  load_bytes_ = std::min(load_bytes, dataset_bytes_);
  const io::Partition all = dataset_->partition(0, 1);
  io::DataOptions resident_options;
  resident_options.memory = io::DataMemory::resident;
  resident_options.largest_pages = PageSize::huge_2m;
  resident_.emplace(io::load(*runtime_, *executor_, all, resident_options));
  io::DataOptions mapped_options;
  mapped_options.memory = io::DataMemory::mapped;
  mapped_.emplace(io::load(*runtime_, *executor_, all, mapped_options));

  file_4k_ = MappedFile::open(path_);
  const std::span<const std::byte> whole = file_4k_.bytes(0, file_4k_.size());
  ::madvise(const_cast<std::byte*>(whole.data()), whole.size(), MADV_NOHUGEPAGE);

  const std::uint64_t elements = dataset_bytes_ / sizeof(double);
  std::mt19937_64 random(random_seed);
  std::uniform_int_distribution<std::uint64_t> pick(0, elements - 1);
  random_elements_.resize(random_reads);
  const std::span<const double> values = resident_values();
  for (std::uint64_t& e : random_elements_) {
    e = pick(random);
    random_sum_ += values[e];
  }
  warm_all();
}

resident_suite::~resident_suite() {
  resident_.reset();
  mapped_.reset();
  dataset_.reset();
  file_4k_ = MappedFile();
  if (fd_ >= 0) ::close(fd_);
}

std::span<const double> resident_suite::resident_values() const noexcept {
  const std::span<const std::byte> b = resident_->loaded();
  return {reinterpret_cast<const double*>(b.data()), b.size() / sizeof(double)};
}

std::span<const double> resident_suite::mapped_4k_values() const noexcept {
  const std::span<const std::byte> b = file_4k_.bytes(data_offset_, dataset_bytes_);
  return {reinterpret_cast<const double*>(b.data()), b.size() / sizeof(double)};
}

double resident_suite::drop_load_range() {
  const long page = ::sysconf(_SC_PAGESIZE);
  auto* plain = const_cast<std::byte*>(file_4k_.bytes(data_offset_, load_bytes_).data());
  auto* strata_view = const_cast<std::byte*>(mapped_->partition().mapped_address());
  // Both views start on the array's 2 MiB-aligned offset in a page-aligned mapping.
  ::madvise(plain, load_bytes_, MADV_DONTNEED);
  ::madvise(strata_view, load_bytes_, MADV_DONTNEED);
  ::posix_fadvise(fd_, static_cast<off_t>(data_offset_), static_cast<off_t>(load_bytes_),
                  POSIX_FADV_DONTNEED);
  std::vector<unsigned char> in_core(load_bytes_ / static_cast<std::uint64_t>(page));
  if (::mincore(plain, load_bytes_, in_core.data()) != 0) return -1;
  std::uint64_t cached = 0;
  for (unsigned char c : in_core) cached += c & 1;
  return static_cast<double>(cached) / static_cast<double>(in_core.size());
}

void resident_suite::warm_all() {
  const std::span<const std::byte> plain = file_4k_.bytes(0, file_4k_.size());
  ::madvise(const_cast<std::byte*>(plain.data()), plain.size(), MADV_POPULATE_READ);
  ::madvise(const_cast<std::byte*>(mapped_->partition().mapped_address()), dataset_bytes_,
            MADV_POPULATE_READ);
}

}  // namespace strata::bench::resident
