// SPDX-License-Identifier: Apache-2.0
// Makes the kernels suite's data (suite_data.hpp): generate the `.strata` file, map and verify it,
// copy it into placed memory and the stencil grid, and start the Executors. Runs once, untimed.
#include "suite_data.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "strata/io/dataset/synthetic.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/runtime/base/dtype.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/runtime/memory/memory_manager.hpp"

namespace strata::bench::kernels {

static_assert(grid_rows * grid_cols == value_count, "the stencil grid is a copy of the values");

struct suite_data::impl {
  Topology topology = Topology::load();
  MemoryManager memory{topology};
  std::optional<io::StrataFile> file;
  std::span<const double> mapped;
  Array<double> resident;
  Array<double> grid_in;
  Array<double> grid_out;
  std::optional<Executor> one_thread;
  std::optional<Executor> two_threads;
};

namespace {

std::string scratch_base() {
  const char* dir = std::getenv("TMPDIR");
  return (dir != nullptr && *dir != '\0') ? dir : "/tmp";
}

}  // namespace

suite_data::suite_data() : impl_(std::make_unique<impl>()) {
  std::string folder = scratch_base() + "/strata_bench_kernels.XXXXXX";
  if (::mkdtemp(folder.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "kernels bench: cannot create " + folder);
  }
  try {
    const std::string path = folder + "/values.strata";
    io::generate_dataset(path, {.kind = io::SyntheticKind::normal,
                                .bytes = value_bytes,
                                .dtype = DType::f64,
                                .low = hist_low,
                                .high = hist_high,
                                .seed = 1});
    impl_->file.emplace(io::StrataFile::open(path));
    const io::ArrayInfo values = impl_->file->array("values");
    if (values.dtype != DType::f64 || values.data_bytes != value_bytes) {
      throw std::runtime_error("kernels bench: generate_dataset did not write 256 MiB of f64");
    }
    // Verifies every chunk now, so no timed pass pays for the lazy check.
    const std::span<const std::byte> bytes = impl_->file->bytes(values, 0, values.data_bytes);
    impl_->mapped = {reinterpret_cast<const double*>(bytes.data()), value_count};
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(folder, ignored);
    throw;
  }
  std::error_code ignored;  // the mapping keeps the file; a leftover folder is only untidy
  std::filesystem::remove_all(folder, ignored);

  impl_->resident = impl_->memory.array<double>("values", {value_count});
  impl_->grid_in = impl_->memory.array<double>("grid_in", {grid_rows, grid_cols});
  impl_->grid_out = impl_->memory.array<double>("grid_out", {grid_rows, grid_cols});
  std::memcpy(impl_->resident.span().data(), impl_->mapped.data(), value_bytes);
  std::memcpy(impl_->grid_in.span().data(), impl_->mapped.data(), value_bytes);
  std::memset(impl_->grid_out.span().data(), 0, value_bytes);
  impl_->one_thread.emplace(impl_->topology, ExecutorOptions{.threads = 1});
  impl_->two_threads.emplace(impl_->topology, ExecutorOptions{.threads = 2});
}

suite_data::~suite_data() = default;

std::span<const double> suite_data::mapped() const noexcept { return impl_->mapped; }
const Array<double>& suite_data::resident() const noexcept { return impl_->resident; }
std::span<const double> suite_data::resident_span() const noexcept {
  return impl_->resident.span();
}
std::span<const double> suite_data::grid_in() const noexcept { return impl_->grid_in.span(); }
std::span<double> suite_data::grid_out() const noexcept { return impl_->grid_out.span(); }

Executor& suite_data::executor(unsigned threads) {
  if (threads == 1) return *impl_->one_thread;
  if (threads == 2) return *impl_->two_threads;
  throw std::invalid_argument("kernels bench: executors exist for 1 and 2 threads only");
}

suite_data& data() {
  static suite_data made;
  return made;
}

}  // namespace strata::bench::kernels
