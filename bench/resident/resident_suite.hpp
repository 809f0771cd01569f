// SPDX-License-Identifier: Apache-2.0
// What every case of the resident suite reads: one `.strata` dataset of f64 (8 GiB by default),
// unlinked once open; a runtime and executor; the dataset as strata maps it, its resident copy in
// 2 MiB pages, and a plain mapping of the file with 4 KiB pages. Made once, before any case runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "strata/io/dataset/dataset.hpp"
#include "strata/io/dataset/dataset_memory.hpp"
#include "strata/runtime/cluster/runtime.hpp"
#include "strata/runtime/files/mapped_file.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::bench::resident {

class resident_suite {
 public:
  // Generates the dataset in a fresh folder of $TMPDIR (else /tmp), opens and unlinks it, loads
  // the resident copy, maps the plain view and draws the random reads. Throws what strata throws.
  explicit resident_suite(std::uint64_t dataset_bytes);
  ~resident_suite();

  Runtime& runtime() noexcept { return *runtime_; }
  Executor& executor() noexcept { return *executor_; }
  // "/proc/self/fd/<fd>" of the unlinked file, for Dataset::open and MappedFile::open.
  const std::string& path() const noexcept { return path_; }
  int fd() const noexcept { return fd_; }
  std::uint64_t data_offset() const noexcept { return data_offset_; }
  std::uint64_t dataset_bytes() const noexcept { return dataset_bytes_; }
  // Partitions the load cases split the dataset into: partition 0 is the first load_bytes.
  int load_parts() const noexcept { return static_cast<int>(dataset_bytes_ / load_bytes_); }

  // The dataset as strata maps it (mapped partition of all rows), and its resident copy.
  const io::PartitionData& mapped() const noexcept { return *mapped_; }
  const io::PartitionData& resident() const noexcept { return *resident_; }
  std::span<const double> resident_values() const noexcept;
  // The array in a plain mapping of the file with MADV_NOHUGEPAGE: 4 KiB page-table entries.
  std::span<const double> mapped_4k_values() const noexcept;

  const std::vector<std::uint64_t>& random_elements() const noexcept { return random_elements_; }
  double random_sum() const noexcept { return random_sum_; }

  // The first load_bytes of the array out of the page cache: out of this process's mappings
  // (MADV_DONTNEED) and then out of the cache (POSIX_FADV_DONTNEED). Returns the share of its
  // pages still cached after (mincore), which the cold cases report.
  double drop_load_range();
  // The whole array in the page cache and in both mappings' page tables (MADV_POPULATE_READ).
  void warm_all();

 private:
  std::optional<Runtime> runtime_;
  std::optional<Executor> executor_;
  int fd_ = -1;
  std::string path_;
  std::uint64_t data_offset_ = 0;
  std::uint64_t dataset_bytes_ = 0;
  std::uint64_t load_bytes_ = 0;
  std::optional<io::Dataset> dataset_;
  std::optional<io::PartitionData> mapped_;
  std::optional<io::PartitionData> resident_;
  MappedFile file_4k_;
  std::vector<std::uint64_t> random_elements_;
  double random_sum_ = 0;
};

// The suite's one instance, made by main() before the cases run.
resident_suite& suite();
void make_suite(std::uint64_t dataset_bytes);
// Frees it (its memory, its file).
void release_suite();

}  // namespace strata::bench::resident
