// SPDX-License-Identifier: Apache-2.0
// StrataFile: parse and validate through pread (never through the mapping, so a damaged or
// truncated file cannot fault), then hand out zero-copy views of the mapped data with each chunk
// verified the first time it is covered.
#include "strata/io/format/strata_file.hpp"

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <span>
#include <vector>

#include "format/strata_format.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/base/log.hpp"
#include "strata/runtime/files/mapped_file.hpp"
#include "strata/runtime/files/mapped_read_guard.hpp"
#include "strata/runtime/machine/topology.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata::io {
namespace {

enum ChunkState : std::uint8_t { unverified = 0, verified = 1 };

std::string hex(std::uint64_t v) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// Copies [offset, offset + out.size()) of `file` into `out` the fastest way the page cache allows.
// Why not pread alone: out of a warm page cache it copies slower than memcpy from a mapping (a
// lookup and a user copy per folio: on two threads of the build machine 3 against 10 GB/s for a
// file cached in small folios, 10 against 13 in large ones), while a mapping's faults on cached
// pages are cheap. So where every page of the range is cached
// (mincore: a page-cache lookup per page, a few microseconds a MiB) and the mapping is shared or
// read-only, memcpy from the mapping, guarded (a truncation meanwhile is Error(corrupt_data) as
// with pread), then give back the page-table entries that made (MADV_DONTNEED; the page cache
// keeps the pages), so a resident copy does not leave the file in the resident set as well; else
// pread, which reads ahead from the disk as a cold load needs.
void copy_out(const MappedFile& file, std::uint64_t offset, std::span<std::byte> out) {
  constexpr std::uint64_t kMinBytes = std::uint64_t{256} << 10;  // short reads: pread
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t first = offset / page * page;
  const std::uint64_t last = (offset + out.size() + page - 1) / page * page;
  bool cached = file.mode() != MapMode::copy_on_write && out.size() >= kMinBytes &&
                last <= (file.size() + page - 1) / page * page;
  std::span<const std::byte> from;
  if (cached) {
    from = file.bytes(offset, out.size());  // checks the file still covers the range
    auto* const base = const_cast<std::byte*>(from.data()) - (offset - first);
    thread_local std::vector<unsigned char> in_core;
    in_core.resize(static_cast<std::size_t>((last - first) / page));
    cached =
        ::mincore(base, last - first, in_core.data()) == 0 &&
        std::all_of(in_core.begin(), in_core.end(), [](unsigned char c) { return (c & 1) != 0; });
  }
  if (!cached) {
    file.read(offset, out);
    return;
  }
  guard_mapped_read(from, [&] { std::memcpy(out.data(), from.data(), out.size()); });
  // Whole pages of the range only: a page shared with a neighbouring range may be in use there.
  const std::uint64_t inner_first = (offset + page - 1) / page * page;
  const std::uint64_t inner_last = (offset + out.size()) / page * page;
  if (inner_last > inner_first) {
    ::madvise(const_cast<std::byte*>(from.data()) + (inner_first - offset),
              inner_last - inner_first, MADV_DONTNEED);
  }
}

}  // namespace

struct StrataFile::Impl {
  std::string path;
  MappedFile file;
  detail::Parsed parsed;
  // Per array, per chunk: verified yet? Atomic so concurrent readers verify at most twice, never
  // skip a check.
  std::vector<std::unique_ptr<std::atomic<std::uint8_t>[]>> state;
  std::vector<std::unique_ptr<std::atomic<bool>[]>> dirty;
  bool writable = false;

  std::size_t index_of(const ArrayInfo& a) const {
    for (std::size_t i = 0; i < parsed.arrays.size(); ++i) {
      if (&parsed.arrays[i] == &a || parsed.arrays[i].name == a.name) return i;
    }
    throw Error(ErrorCategory::invalid_argument, "array does not belong to this file",
                {{"file", path}, {"array", a.name}});
  }

  void check_range(const ArrayInfo& a, std::uint64_t offset, std::uint64_t bytes) const {
    if (offset > a.data_bytes || bytes > a.data_bytes - offset) {
      throw Error(ErrorCategory::invalid_argument, "range outside the array",
                  {{"file", path}, {"array", a.name}, {"offset", std::to_string(offset)},
                   {"bytes", std::to_string(bytes)}, {"array_bytes", std::to_string(a.data_bytes)}});
    }
  }

  std::uint64_t chunk_checksum(const ArrayInfo& a, std::uint64_t chunk) const {
    std::uint64_t first = chunk * a.chunk_bytes;
    std::uint64_t bytes = std::min(a.chunk_bytes, a.data_bytes - first);
    const std::span<const std::byte> view = file.bytes(a.data_offset + first, bytes);
    // The size check above cannot stop a truncation that lands while the checksum runs.
    return guard_mapped_read(view, [view] { return detail::checksum(view); });
  }

  void verify_chunks(std::size_t index, std::uint64_t offset, std::uint64_t bytes) const {
    const ArrayInfo& a = parsed.arrays[index];
    if (bytes == 0) return;
    std::uint64_t first = offset / a.chunk_bytes;
    std::uint64_t last = (offset + bytes - 1) / a.chunk_bytes;
    for (std::uint64_t c = first; c <= last; ++c) {
      if (state[index][c].load(std::memory_order_acquire) == verified) continue;
      std::uint64_t actual = chunk_checksum(a, c);
      std::uint64_t expected = parsed.checksums[index][c];
      if (actual != expected) {
        throw Error(ErrorCategory::corrupt_data,
                    "chunk checksum mismatch: computed " + hex(actual) + ", stored " + hex(expected),
                    {{"file", path}, {"array", a.name}, {"chunk", std::to_string(c)},
                     {"bytes", std::to_string(c * a.chunk_bytes) + ".." +
                                   std::to_string(std::min(a.data_bytes, (c + 1) * a.chunk_bytes))}});
      }
      state[index][c].store(verified, std::memory_order_release);
    }
  }
};

std::string FileHeader::uuid_string() const {
  std::string out;
  char buffer[3];
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    std::snprintf(buffer, sizeof buffer, "%02x", uuid[i]);
    out += buffer;
  }
  return out;
}

std::string VerifyResult::message() const {
  if (ok()) {
    return "all " + std::to_string(chunks_checked) + " chunks verified (" + std::to_string(bytes_checked) + " bytes)";
  }
  return "array '" + *bad_array + "' chunk " + std::to_string(bad_chunk) + ": checksum " + hex(actual) +
         ", expected " + hex(expected);
}

StrataFile::StrataFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StrataFile::StrataFile(StrataFile&&) noexcept = default;
StrataFile& StrataFile::operator=(StrataFile&&) noexcept = default;

StrataFile::~StrataFile() {
  if (impl_ && impl_->writable) {
    try {
      flush();
    } catch (const std::exception& e) {
      log::error(std::string("closing ") + impl_->path + ": " + e.what());
    }
  }
}

StrataFile StrataFile::open(const std::string& path, Access access) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->writable = access == Access::read_write;
  MappedFileOptions options;
  if (impl->writable) {
    options.read_write();
  } else {
    // Huge pages on the read-only mapping: a cold read then faults 2 MiB folios in with 2 MiB of
    // read-ahead each, instead of 4 KiB folios, and every later mapping of the cached file (a
    // warm run) maps them with one fault per 2 MiB and unmaps them as cheaply.
    options.advise(MapAdvice::huge_pages);
  }
  impl->file = MappedFile::open(path, options);
  const MappedFile& f = impl->file;
  impl->parsed = detail::parse(
      [&](std::uint64_t offset, std::span<std::byte> out) { f.read(offset, out); }, f.file_bytes(), path);
  for (const ArrayInfo& a : impl->parsed.arrays) {
    impl->state.emplace_back(new std::atomic<std::uint8_t>[a.chunk_count]());
    impl->dirty.emplace_back(new std::atomic<bool>[a.chunk_count]());
  }
  return StrataFile(std::move(impl));
}

std::vector<ArrayInfo> StrataFile::validate_image(std::span<const std::byte> image,
                                                  const std::string& name) {
  return validate_image(image, image.size(), name);
}

std::vector<ArrayInfo> StrataFile::validate_image(std::span<const std::byte> prefix,
                                                  std::uint64_t file_bytes,
                                                  const std::string& name) {
  detail::Parsed p = detail::parse(
      [&](std::uint64_t offset, std::span<std::byte> out) {
        if (offset > file_bytes || out.size() > file_bytes - offset) {
          detail::corrupt(name, "file_bytes", "read past the end of the image");
        }
        std::fill(out.begin(), out.end(), std::byte{0});
        if (offset < prefix.size()) {
          std::size_t n = std::min<std::size_t>(out.size(), prefix.size() - offset);
          std::memcpy(out.data(), prefix.data() + offset, n);
        }
      },
      file_bytes, name);
  return std::move(p.arrays);
}

const std::string& StrataFile::path() const noexcept { return impl_->path; }
const FileHeader& StrataFile::header() const noexcept { return impl_->parsed.header.info; }
const std::vector<ArrayInfo>& StrataFile::arrays() const noexcept { return impl_->parsed.arrays; }
const Metadata& StrataFile::metadata() const noexcept { return impl_->parsed.metadata; }

const ArrayInfo& StrataFile::array(std::string_view name) const {
  std::string names;
  for (const ArrayInfo& a : impl_->parsed.arrays) {
    if (a.name == name) return a;
    names += (names.empty() ? "" : ", ") + a.name;
  }
  throw Error(ErrorCategory::invalid_argument, "no such array in the file",
              {{"file", impl_->path}, {"array", std::string(name)}, {"arrays", names}});
}

std::span<const std::byte> StrataFile::bytes(const ArrayInfo& array, std::uint64_t offset,
                                             std::uint64_t bytes) const& {
  std::size_t index = impl_->index_of(array);
  const ArrayInfo& a = impl_->parsed.arrays[index];
  impl_->check_range(a, offset, bytes);
  auto view = impl_->file.bytes(a.data_offset + offset, bytes);  // checks the file's size
  impl_->verify_chunks(index, offset, bytes);
  return view;
}

void StrataFile::read(const ArrayInfo& array, std::uint64_t offset, std::span<std::byte> out) const {
  std::size_t index = impl_->index_of(array);
  const ArrayInfo& a = impl_->parsed.arrays[index];
  impl_->check_range(a, offset, out.size());
  impl_->file.read(a.data_offset + offset, out);
  // Verify through pread too, chunk by chunk, so a damaged file never faults this path.
  if (out.empty()) return;
  std::uint64_t first = offset / a.chunk_bytes;
  std::uint64_t last = (offset + out.size() - 1) / a.chunk_bytes;
  std::vector<std::byte> chunk;
  for (std::uint64_t c = first; c <= last; ++c) {
    if (impl_->state[index][c].load(std::memory_order_acquire) == verified) continue;
    std::uint64_t begin = c * a.chunk_bytes;
    std::uint64_t size = std::min(a.chunk_bytes, a.data_bytes - begin);
    chunk.resize(size);
    impl_->file.read(a.data_offset + begin, chunk);
    std::uint64_t actual = detail::checksum(chunk);
    if (actual != impl_->parsed.checksums[index][c]) {
      throw Error(ErrorCategory::corrupt_data,
                  "chunk checksum mismatch: computed " + hex(actual) + ", stored " +
                      hex(impl_->parsed.checksums[index][c]),
                  {{"file", impl_->path}, {"array", a.name}, {"chunk", std::to_string(c)}});
    }
    impl_->state[index][c].store(verified, std::memory_order_release);
  }
}

const std::byte* StrataFile::mapped_data(const ArrayInfo& array) const noexcept {
  try {
    const ArrayInfo& a = impl_->parsed.arrays[impl_->index_of(array)];
    return impl_->file.bytes(a.data_offset, a.data_bytes).data();
  } catch (...) {
    return nullptr;
  }
}

void StrataFile::read_unverified(const ArrayInfo& array, std::uint64_t offset,
                                 std::span<std::byte> out) const {
  const ArrayInfo& a = impl_->parsed.arrays[impl_->index_of(array)];
  impl_->check_range(a, offset, out.size());
  copy_out(impl_->file, a.data_offset + offset, out);
}

void StrataFile::check_chunk(const ArrayInfo& array, std::uint64_t chunk,
                             std::span<const std::byte> copy) const {
  std::size_t index = impl_->index_of(array);
  const ArrayInfo& a = impl_->parsed.arrays[index];
  if (chunk >= a.chunk_count ||
      copy.size() != std::min(a.chunk_bytes, a.data_bytes - chunk * a.chunk_bytes)) {
    throw Error(ErrorCategory::invalid_argument, "not the whole of a chunk",
                {{"file", impl_->path},
                 {"array", a.name},
                 {"chunk", std::to_string(chunk)},
                 {"bytes", std::to_string(copy.size())}});
  }
  std::uint64_t actual = detail::checksum(copy);
  std::uint64_t expected = impl_->parsed.checksums[index][chunk];
  if (actual != expected) {
    const std::uint64_t begin = chunk * a.chunk_bytes;
    throw Error(ErrorCategory::corrupt_data,
                "chunk checksum mismatch: computed " + hex(actual) + ", stored " + hex(expected),
                {{"file", impl_->path},
                 {"array", a.name},
                 {"chunk", std::to_string(chunk)},
                 {"bytes", std::to_string(begin) + ".." + std::to_string(begin + copy.size())}});
  }
  impl_->state[index][chunk].store(verified, std::memory_order_release);
}

std::span<std::byte> StrataFile::writable(const ArrayInfo& array, std::uint64_t offset,
                                          std::uint64_t bytes) & {
  if (!impl_->writable) {
    throw Error(ErrorCategory::invalid_argument, "file was opened read-only", {{"file", impl_->path}});
  }
  std::size_t index = impl_->index_of(array);
  const ArrayInfo& a = impl_->parsed.arrays[index];
  impl_->check_range(a, offset, bytes);
  auto view = impl_->file.writable_bytes(a.data_offset + offset, bytes);
  // Modifying a chunk that was already damaged would bless the damage with a new checksum.
  impl_->verify_chunks(index, offset, bytes);
  if (bytes > 0) {
    for (std::uint64_t c = offset / a.chunk_bytes; c <= (offset + bytes - 1) / a.chunk_bytes; ++c) {
      impl_->dirty[index][c].store(true, std::memory_order_relaxed);
    }
  }
  return view;
}

void StrataFile::flush() {
  if (!impl_->writable) return;
  for (std::size_t i = 0; i < impl_->parsed.arrays.size(); ++i) {
    const ArrayInfo& a = impl_->parsed.arrays[i];
    bool any = false;
    for (std::uint64_t c = 0; c < a.chunk_count; ++c) {
      if (!impl_->dirty[i][c].exchange(false)) continue;
      std::uint64_t sum = impl_->chunk_checksum(a, c);
      impl_->parsed.checksums[i][c] = sum;
      auto slot = impl_->file.writable_bytes(a.checksum_offset + c * 8, 8);
      std::memcpy(slot.data(), &sum, 8);
      impl_->state[i][c].store(verified, std::memory_order_release);
      any = true;
    }
    if (any) impl_->file.flush(a.data_offset, a.data_bytes);
    if (any) impl_->file.flush(a.checksum_offset, a.chunk_count * 8);
  }
}

VerifyResult StrataFile::verify(unsigned requested_threads, Progress* progress) const {
  const unsigned threads = Executor::resolve_threads(Topology::load(), requested_threads);
  struct Task {
    std::size_t array;
    std::uint64_t chunk;
  };
  std::vector<Task> tasks;
  VerifyResult result;
  for (std::size_t i = 0; i < impl_->parsed.arrays.size(); ++i) {
    for (std::uint64_t c = 0; c < impl_->parsed.arrays[i].chunk_count; ++c) tasks.push_back({i, c});
    result.bytes_checked += impl_->parsed.arrays[i].data_bytes;
  }
  result.chunks_checked = tasks.size();
  if (progress != nullptr) progress->add_total(result.bytes_checked);
  std::atomic<std::size_t> first_bad{tasks.size()};
  auto check = [&](std::size_t t) {
    const ArrayInfo& a = impl_->parsed.arrays[tasks[t].array];
    if (impl_->chunk_checksum(a, tasks[t].chunk) != impl_->parsed.checksums[tasks[t].array][tasks[t].chunk]) {
      std::size_t seen = first_bad.load();
      while (t < seen && !first_bad.compare_exchange_weak(seen, t)) {
      }
    } else {
      impl_->state[tasks[t].array][tasks[t].chunk].store(verified, std::memory_order_release);
    }
    if (progress != nullptr)
      progress->add(std::min(a.chunk_bytes, a.data_bytes - tasks[t].chunk * a.chunk_bytes));
  };
  impl_->file.bytes(0, impl_->file.size());  // the file must still be whole before we walk it
  if (threads <= 1) {
    for (std::size_t t = 0; t < tasks.size(); ++t) check(t);
  } else {
    tbb::task_arena arena(static_cast<int>(threads));
    arena.execute([&] { tbb::parallel_for(std::size_t{0}, tasks.size(), check); });
  }
  if (std::size_t t = first_bad.load(); t < tasks.size()) {
    const ArrayInfo& a = impl_->parsed.arrays[tasks[t].array];
    result.bad_array = a.name;
    result.bad_chunk = tasks[t].chunk;
    result.expected = impl_->parsed.checksums[tasks[t].array][tasks[t].chunk];
    result.actual = impl_->chunk_checksum(a, tasks[t].chunk);
    impl_->state[tasks[t].array][tasks[t].chunk].store(unverified);
  }
  return result;
}

}  // namespace strata::io
