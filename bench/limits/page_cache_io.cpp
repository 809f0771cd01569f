// SPDX-License-Identifier: Apache-2.0
// File I/O limits: read() of a file that sits in the page cache, a fresh mapping of it summed at one
// and at all threads (page faults included), and write()+fdatasync of the same bytes to a new file
// on the same file system. Mapped datasets are judged against the first two, checkpoints against
// the last. The files live in $TMPDIR (else /tmp) and vanish on exit.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "common/read_loop.hpp"
#include "limits_settings.hpp"

namespace strata::bench::limits {
namespace {

// 256 MiB: more than any last-level cache, so the copy out of the page cache streams from DRAM,
// and small enough that write+fdatasync on a slow disk stays near a second per pass.
constexpr std::size_t file_bytes = std::size_t{256} << 20;
// 1 MiB per system call: the call costs about a microsecond against some 100 us of copying, and
// the buffer stays in L2, so only the kernel's copy out of (or into) the page cache is measured.
constexpr std::size_t chunk_bytes = std::size_t{1} << 20;
// MADV_POPULATE_READ (Linux 5.14); older headers lack the name. An older kernel refuses it with
// EINVAL, and the pass then faults its pages in as it reads, as without populate.
constexpr int populate_read_advice = 22;

std::string scratch_dir() {
  const char* dir = std::getenv("TMPDIR");
  return (dir != nullptr && *dir != '\0') ? dir : "/tmp";
}

// The name of the file system under `dir`: tmpfs would make fdatasync free and the write case
// meaningless, so the report shows where the files were.
std::string file_system_name(const std::string& dir) {
  struct known_fs {
    std::uint32_t magic;  // statfs f_type, from linux/magic.h and the vendors' headers
    const char* name;
  };
  static constexpr known_fs known[] = {
      {0xEF53, "ext2/3/4"},  {0x58465342, "xfs"},       {0x9123683E, "btrfs"},
      {0x01021994, "tmpfs"}, {0x794C7630, "overlayfs"}, {0x6969, "nfs"},
      {0x2FC12FC1, "zfs"},   {0x0BD00BD0, "lustre"},    {0x47504653, "gpfs"},
  };
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) return "unknown";
  for (const known_fs& k : known) {
    if (static_cast<std::uint32_t>(fs.f_type) == k.magic) return k.name;
  }
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(fs.f_type));
  return hex;
}

[[maybe_unused]] const bool context_added = [] {
  const std::string dir = scratch_dir();
  benchmark::AddCustomContext("limits_file_dir", dir + " (" + file_system_name(dir) + ")");
  benchmark::AddCustomContext("limits_file_bytes", std::to_string(file_bytes));
  benchmark::AddCustomContext("limits_io_chunk_bytes", std::to_string(chunk_bytes));
  return true;
}();

// A file in the scratch folder, unlinked as soon as it is open: the kernel frees it when the
// descriptor closes, even when the benchmark is killed, so no run leaves 256 MiB behind. An
// unlinked file's data is written and synced exactly like a named one's.
class scratch_file {
 public:
  scratch_file() {
    std::string path = scratch_dir() + "/strata_bench_limits.XXXXXX";
    fd_ = mkstemp(path.data());
    if (fd_ < 0) {
      throw std::system_error(errno, std::generic_category(), "limits: cannot create " + path);
    }
    unlink(path.c_str());
  }
  ~scratch_file() { close(fd_); }
  scratch_file(const scratch_file&) = delete;
  scratch_file& operator=(const scratch_file&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A chunk of non-zero bytes, so no layer can treat the data as a hole.
std::vector<std::byte> pattern_chunk() {
  std::vector<std::byte> chunk(chunk_bytes);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<std::byte>(i * 131 + 7);
  return chunk;
}

// Writes `chunk` over and over from offset 0 until the file holds file_bytes; false on error.
bool write_file(int fd, std::span<const std::byte> chunk) {
  for (std::size_t offset = 0; offset < file_bytes;) {
    const std::size_t want = std::min(chunk.size(), file_bytes - offset);
    const ssize_t n = pwrite(fd, chunk.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads the whole file chunk by chunk into `buffer`; false on error or a short file.
bool read_file(int fd, std::span<std::byte> buffer) {
  for (std::size_t offset = 0; offset < file_bytes;) {
    const ssize_t n = pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += static_cast<std::size_t>(n);
  }
  return true;
}

// The file the read case reads, written once and synced so its cached pages are clean: a read
// must not race the writeback of its own file. -1 when it could not be written.
int cached_file_fd() {
  static const scratch_file file;
  static const bool written = write_file(file.fd(), pattern_chunk()) && fdatasync(file.fd()) == 0;
  return written ? file.fd() : -1;
}

void page_cache_read(benchmark::State& state) {
  const int fd = cached_file_fd();
  std::vector<std::byte> buffer(chunk_bytes);
  // One untimed pass: the pages are cached since the file was written, this makes sure of it
  // and faults in the buffer.
  if (fd < 0 || !read_file(fd, buffer)) state.SkipWithError("cannot write or read the file");
  for (auto _ : state) {
    if (!read_file(fd, buffer)) {
      state.SkipWithError("read() of the cached file failed");
      break;
    }
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
  set_ratio_label(state, false);
}

// Each pass writes a new file's worth (the file is truncated to empty, untimed), so block
// allocation is paid as a checkpoint writing fresh shards pays it; fdatasync makes the bytes
// durable, which is what a checkpoint promises.
void write_fdatasync(benchmark::State& state) {
  const scratch_file file;
  const std::vector<std::byte> chunk = pattern_chunk();
  for (auto _ : state) {
    state.PauseTiming();
    const bool truncated = ftruncate(file.fd(), 0) == 0;
    state.ResumeTiming();
    if (!truncated || !write_file(file.fd(), chunk) || fdatasync(file.fd()) != 0) {
      state.SkipWithError("write()+fdatasync of the scratch file failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
  set_ratio_label(state, false);
}

// A fresh read-only mapping of the cached file per pass, summed by one OpenMP region (each thread
// its share) and unmapped, all timed as one region: the ceiling for a job that maps a file in the
// page cache, page faults and unmap included. With `populate`, each thread first asks the kernel
// to map its share in one call (MADV_POPULATE_READ) instead of faulting it in while it reads.
double timed_mapped_sum(int fd, int threads, bool populate, double& sink) {
  const auto start = std::chrono::steady_clock::now();
  void* p = mmap(nullptr, file_bytes, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return -1.0;
  const std::span<const double> x(static_cast<const double*>(p), file_bytes / sizeof(double));
  double total = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    const auto n = static_cast<std::size_t>(omp_get_num_threads());
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    // Shares on page boundaries, so each thread populates exactly the pages it then reads.
    const std::size_t pages = file_bytes / 4096;
    const std::size_t begin = pages * t / n * (4096 / sizeof(double));
    const std::size_t end = pages * (t + 1) / n * (4096 / sizeof(double));
    if (populate)
      madvise(const_cast<double*>(x.data() + begin), (end - begin) * sizeof(double),
              populate_read_advice);
    total += sum_doubles(x.subspan(begin, end - begin));
  }
  munmap(p, file_bytes);
  const auto stop = std::chrono::steady_clock::now();
  sink += total;
  return std::chrono::duration<double>(stop - start).count();
}

template <bool populate>
void mapped_file_sum(benchmark::State& state) {
  const int fd = cached_file_fd();
  std::vector<std::byte> buffer(chunk_bytes);
  if (fd < 0 || !read_file(fd, buffer)) state.SkipWithError("cannot write or read the file");
  double sink = 0.0;
  for (auto _ : state) {
    const double seconds = timed_mapped_sum(fd, static_cast<int>(state.range(0)), populate, sink);
    if (seconds < 0) {
      state.SkipWithError("mmap of the cached file failed");
      break;
    }
    state.SetIterationTime(seconds);
  }
  benchmark::DoNotOptimize(sink);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
  set_ratio_label(state, false);
}

BENCHMARK(page_cache_read)->Apply(apply_run_settings);
BENCHMARK(mapped_file_sum<false>)->Name("mapped_file_sum")->Apply(apply_timed_region_settings);
BENCHMARK(mapped_file_sum<true>)
    ->Name("mapped_file_sum_populate")
    ->Apply(apply_timed_region_settings);
BENCHMARK(write_fdatasync)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::limits
