// SPDX-License-Identifier: Apache-2.0
// A mapped file protected with a row layout, saved on one rank count and restored on another
// (driven by expect_mapped_rescale.cmake): `save DIR` grows each rank's file to its rows of the
// global array and saves step 5; `restore DIR` gives each rank a zeroed file of its new share,
// restores, and checks every element in the mapping and, through a descriptor of its own, in the
// file. Prints PASS on rank 0 and exits 0 only when every rank holds exactly its rows.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "strata/io/checkpoint/checkpoint.hpp"

namespace {

constexpr std::size_t kRows = 101;  // split unevenly over 2, 3 or 4 ranks
constexpr std::size_t kCols = 100;  // 800-byte rows: 8 KiB chunks end mid-row
constexpr std::size_t kRowBytes = kCols * sizeof(double);

double value(std::size_t row, std::size_t col) {
  return static_cast<double>(row * 1000 + col) + 0.25;
}

// This rank's share: rows [first, first + count) of kRows split as evenly as can be.
struct Share {
  std::size_t first = 0;
  std::size_t count = 0;
};
Share share_of(int rank, int size) {
  const auto r = static_cast<std::size_t>(rank);
  const auto n = static_cast<std::size_t>(size);
  const std::size_t base = kRows / n;
  const std::size_t extra = kRows % n;
  return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

strata::io::CheckpointOptions options(const std::string& dir) {
  strata::io::CheckpointOptions o;
  o.dir = dir + "/ckpt";
  o.chunk_bytes = 8192;
  return o;
}

const strata::io::MappedRows kLayout{strata::DType::f64, strata::Shape{kCols}};

// Whether `bytes` hold the rows of `share`, element by element.
bool holds(const std::byte* bytes, Share share) {
  for (std::size_t r = 0; r < share.count; ++r) {
    for (std::size_t c = 0; c < kCols; ++c) {
      double v = 0;
      std::memcpy(&v, bytes + (r * kCols + c) * sizeof(double), sizeof v);
      if (v != value(share.first + r, c)) return false;
    }
  }
  return true;
}

void fill(std::byte* bytes, Share share, std::size_t rows) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < kCols; ++c) {
      const double v = value(share.first + r, c);
      std::memcpy(bytes + (r * kCols + c) * sizeof(double), &v, sizeof v);
    }
  }
}

bool save(strata::Runtime& rt, strata::Executor& ex, const std::string& dir) {
  const Share share = share_of(rt.rank(), rt.size());
  const std::string path = dir + "/saved-" + std::to_string(rt.rank()) + ".bin";
  // Protected at half its rows, then grown to all of them: the save must follow the mapping.
  const std::size_t half = share.count / 2;
  auto file = strata::MappedFile::open(
      path, strata::MappedFileOptions().read_write().create(half * kRowBytes));
  if (half > 0) fill(file.writable_bytes(0, file.size()).data(), share, half);
  strata::io::Checkpointer ck(rt, ex, options(dir));
  ck.protect("field", file, kLayout);
  file.grow(share.count * kRowBytes);
  fill(file.writable_bytes(0, file.size()).data(), share, share.count);
  ck.save(5);
  return ck.wait().state == strata::io::SaveState::committed;
}

bool restore(strata::Runtime& rt, strata::Executor& ex, const std::string& dir) {
  const Share share = share_of(rt.rank(), rt.size());
  const std::string path =
      dir + "/restored-" + std::to_string(rt.size()) + "-" + std::to_string(rt.rank()) + ".bin";
  auto file = strata::MappedFile::open(
      path, strata::MappedFileOptions().read_write().create(share.count * kRowBytes));
  strata::io::Checkpointer ck(rt, ex, options(dir));
  ck.protect("field", file, kLayout);
  if (ck.restore_latest() != std::optional<long>(5)) {
    std::fprintf(stderr, "rank %d: step 5 was not restored\n", rt.rank());
    return false;
  }
  bool ok = holds(file.bytes(0, file.size()).data(), share);
  if (!ok)
    std::fprintf(stderr, "rank %d: the mapping does not hold rows %zu..%zu\n", rt.rank(),
                 share.first, share.first + share.count);
  // Through a descriptor of its own, while the mapping is still open.
  std::vector<std::byte> on_disk(share.count * kRowBytes);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const bool read_all = fd >= 0 && ::pread(fd, on_disk.data(), on_disk.size(), 0) ==
                                       static_cast<ssize_t>(on_disk.size());
  if (fd >= 0) ::close(fd);
  if (!read_all || !holds(on_disk.data(), share)) {
    std::fprintf(stderr, "rank %d: the file does not hold its rows after restore\n", rt.rank());
    ok = false;
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  strata::Runtime rt(argc, argv, {.install_stop_signals = false});
  strata::Executor ex(rt, {.threads = 1});
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s save|restore DIR\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const bool ok =
      rt.mpi().allreduce_and(mode == "save" ? save(rt, ex, argv[2]) : restore(rt, ex, argv[2]));
  if (rt.rank() == 0)
    std::printf("%s on %d ranks: %s\n", mode.c_str(), rt.size(), ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
