// SPDX-License-Identifier: Apache-2.0
// StrataWriter: lays the file out from its arrays, takes chunks in any order from any thread
// (pwrite at a fixed offset, XXH3 as it goes), and commits by writing the header last, fsync, and
// renaming a temporary file into place.
#include "strata/io/format/strata_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>

#include "files/file_io.hpp"
#include "files/temporary_file.hpp"
#include "format/strata_format.hpp"
#include "strata/runtime/base/error.hpp"

namespace strata::io {
namespace {

std::array<std::uint8_t, 16> random_uuid() {
  std::random_device device;
  std::array<std::uint8_t, 16> id;
  for (std::size_t i = 0; i < id.size(); i += 4) {
    std::uint32_t r = device();
    std::memcpy(id.data() + i, &r, 4);
  }
  id[6] = static_cast<std::uint8_t>((id[6] & 0x0f) | 0x40);  // version 4
  id[8] = static_cast<std::uint8_t>((id[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return id;
}

}  // namespace

struct StrataWriter::Impl {
  std::string path;
  std::optional<detail::TemporaryFile> temp;
  int fd = -1;  // temp's descriptor
  bool finished = false;
  detail::Layout layout;
  Metadata metadata;
  std::string creator;
  std::vector<std::vector<std::uint64_t>> checksums;
  std::vector<std::unique_ptr<std::atomic<bool>[]>> written;
  // append(): per array, bytes appended so far and the partial chunk being filled.
  std::vector<std::uint64_t> appended;
  std::vector<std::vector<std::byte>> pending;
};

StrataWriter::StrataWriter(std::string path, std::vector<ArraySpec> arrays, Metadata metadata,
                           std::string creator)
    : impl_(std::make_unique<Impl>()) {
  detail::check_metadata(metadata);
  Impl& w = *impl_;
  w.path = std::move(path);
  w.metadata = std::move(metadata);
  w.creator = std::move(creator);
  w.layout = detail::compute_layout(arrays, detail::encode_metadata(w.metadata).size());
  for (const ArrayInfo& a : w.layout.arrays) {
    w.checksums.emplace_back(a.chunk_count, 0);
    w.written.emplace_back(new std::atomic<bool>[a.chunk_count]());
  }
  w.appended.assign(w.layout.arrays.size(), 0);
  w.pending.resize(w.layout.arrays.size());

  // Hidden, unpredictable and created exclusively beside the target, so the rename is atomic and
  // nothing planted in the folder redirects the write.
  w.temp.emplace(detail::TemporaryFile::beside(w.path));
  w.fd = w.temp->fd();
  // Reserve every block now: a full disk fails here, before hours of generation are spent.
  if (int err = ::posix_fallocate(w.fd, 0, static_cast<off_t>(w.layout.file_bytes)); err != 0) {
    throw Error(err == ENOSPC || err == EDQUOT ? ErrorCategory::resource : ErrorCategory::io,
                std::string("cannot reserve ") + std::to_string(w.layout.file_bytes) +
                    " bytes: " + std::strerror(err),
                {{"file", w.path}});
  }
}

StrataWriter::StrataWriter(StrataWriter&&) noexcept = default;
StrataWriter& StrataWriter::operator=(StrataWriter&&) noexcept = default;
StrataWriter::~StrataWriter() = default;

const std::vector<ArrayInfo>& StrataWriter::arrays() const noexcept { return impl_->layout.arrays; }

void StrataWriter::write_chunk(std::size_t array, std::uint64_t chunk, std::span<const std::byte> data) {
  Impl& w = *impl_;
  if (w.finished) throw Error(ErrorCategory::invalid_argument, "file already finished", {{"file", w.path}});
  if (array >= w.layout.arrays.size()) {
    throw Error(ErrorCategory::invalid_argument, "no such array index", {{"file", w.path}});
  }
  const ArrayInfo& a = w.layout.arrays[array];
  if (chunk >= a.chunk_count) {
    throw Error(ErrorCategory::invalid_argument, "chunk index past the array",
                {{"file", w.path}, {"array", a.name}, {"chunk", std::to_string(chunk)}});
  }
  std::uint64_t expected = std::min(a.chunk_bytes, a.data_bytes - chunk * a.chunk_bytes);
  if (data.size() != expected) {
    throw Error(ErrorCategory::invalid_argument,
                "chunk must be " + std::to_string(expected) + " bytes, got " + std::to_string(data.size()),
                {{"file", w.path}, {"array", a.name}, {"chunk", std::to_string(chunk)}});
  }
  if (w.written[array][chunk].exchange(true)) {
    throw Error(ErrorCategory::invalid_argument, "chunk written twice",
                {{"file", w.path}, {"array", a.name}, {"chunk", std::to_string(chunk)}});
  }
  try {
    detail::write_all(w.fd, w.path, a.data_offset + chunk * a.chunk_bytes, data);
  } catch (...) {
    w.written[array][chunk].store(false);
    throw;
  }
  w.checksums[array][chunk] = detail::checksum(data);
}

void StrataWriter::append(std::size_t array, std::span<const std::byte> data) {
  Impl& w = *impl_;
  if (array >= w.layout.arrays.size()) {
    throw Error(ErrorCategory::invalid_argument, "no such array index", {{"file", w.path}});
  }
  const ArrayInfo& a = w.layout.arrays[array];
  if (data.size() > a.data_bytes - w.appended[array]) {
    throw Error(ErrorCategory::invalid_argument, "more data appended than the array holds",
                {{"file", w.path}, {"array", a.name}});
  }
  std::vector<std::byte>& pending = w.pending[array];
  while (!data.empty()) {
    std::uint64_t chunk = w.appended[array] / a.chunk_bytes;
    std::uint64_t chunk_size = std::min(a.chunk_bytes, a.data_bytes - chunk * a.chunk_bytes);
    if (pending.empty() && data.size() >= chunk_size) {  // whole chunk straight from the caller
      write_chunk(array, chunk, data.first(chunk_size));
      data = data.subspan(chunk_size);
      w.appended[array] += chunk_size;
      continue;
    }
    std::size_t take = std::min<std::size_t>(data.size(), chunk_size - pending.size());
    pending.insert(pending.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    w.appended[array] += take;
    if (pending.size() == chunk_size) {
      write_chunk(array, chunk, pending);
      pending.clear();
    }
  }
}

void StrataWriter::finish() {
  Impl& w = *impl_;
  if (w.finished) return;
  for (std::size_t i = 0; i < w.layout.arrays.size(); ++i) {
    const ArrayInfo& a = w.layout.arrays[i];
    for (std::uint64_t c = 0; c < a.chunk_count; ++c) {
      if (!w.written[i][c].load()) {
        throw Error(ErrorCategory::invalid_argument, "array incomplete: a chunk was never written",
                    {{"file", w.path}, {"array", a.name}, {"chunk", std::to_string(c)}});
      }
    }
    detail::write_all(w.fd, w.path, a.checksum_offset, std::as_bytes(std::span(w.checksums[i])));
  }
  std::vector<std::byte> meta = detail::encode_metadata(w.metadata);
  detail::write_all(w.fd, w.path, w.layout.metadata_offset, meta);
  std::vector<std::byte> table(w.layout.arrays.size() * detail::kEntryBytes);
  for (std::size_t i = 0; i < w.layout.arrays.size(); ++i) {
    detail::encode_entry(w.layout.arrays[i], std::span(table).subspan(i * detail::kEntryBytes, detail::kEntryBytes));
  }
  detail::write_all(w.fd, w.path, detail::kHeaderBytes, table);

  // Data and tables are durable before the header that vouches for them is written.
  detail::sync_file(w.fd, w.path);
  detail::Header h;
  h.info.version_major = kFormatMajor;
  h.info.version_minor = kFormatMinor;
  h.info.uuid = random_uuid();
  h.info.created_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  h.info.creator = w.creator.substr(0, 63);
  h.info.file_bytes = w.layout.file_bytes;
  h.array_count = static_cast<std::uint32_t>(w.layout.arrays.size());
  h.table_offset = detail::kHeaderBytes;
  h.table_bytes = table.size();
  h.table_checksum = detail::checksum(table);
  h.metadata_offset = w.layout.metadata_offset;
  h.metadata_bytes = meta.size();
  h.metadata_checksum = detail::checksum(meta);
  std::array<std::byte, detail::kHeaderBytes> header;
  detail::encode_header(h, header);
  detail::write_all(w.fd, w.path, 0, header);
  detail::sync_file(w.fd, w.path);

  w.fd = -1;
  w.temp->publish(w.path, {{"file", w.path}});
  w.finished = true;
}

}  // namespace strata::io
