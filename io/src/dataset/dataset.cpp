// SPDX-License-Identifier: Apache-2.0
// Dataset: resolves a spec to a .strata array or an HDF5 dataset and cuts partitions — mapped
// views for .strata (each checksum chunk verified once per Dataset, by the first thread that asks
// for it), hyperslab reads for HDF5.
#include "strata/io/dataset/dataset.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "strata/io/format/strata_file.hpp"
#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/files/regular_file.hpp"

namespace strata::io {
namespace {

// False for a file that cannot be opened (StrataFile::open then says why); Error(io) for a FIFO
// or device, which must not be read at all.
bool is_hdf5_file(const std::string& path) {
  static constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  if (::access(path.c_str(), F_OK) != 0) return false;
  const int fd = open_regular_file(path, O_RDONLY);
  char head[8] = {};
  const ssize_t got = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  return got == 8 && std::equal(head, head + 8, kSignature);
}

// Per checksum chunk of one array of one opened file: unverified, being verified by one thread
// (the others wait for it), or verified. A failed check goes back to unverified, so a later reader
// sees the same Error.
class ChunkVerification {
 public:
  explicit ChunkVerification(std::uint64_t chunks)
      : state_(new std::atomic<std::uint8_t>[chunks]()) {}

  // Runs check() for chunk c unless it has run successfully; never twice at once.
  template <class Check>
  void once(std::uint64_t c, const Check& check) {
    std::atomic<std::uint8_t>& s = state_[c];
    std::uint8_t v = s.load(std::memory_order_acquire);
    while (v != kVerified) {
      if (v == kUnverified && s.compare_exchange_strong(v, kVerifying, std::memory_order_acquire)) {
        try {
          check();
        } catch (...) {
          s.store(kUnverified, std::memory_order_release);
          s.notify_all();
          throw;
        }
        verified_.fetch_add(1, std::memory_order_relaxed);
        s.store(kVerified, std::memory_order_release);
        s.notify_all();
        return;
      }
      if (v == kVerifying) {
        s.wait(kVerifying, std::memory_order_acquire);
        v = s.load(std::memory_order_acquire);
      }
    }
  }
  std::uint64_t verified() const noexcept { return verified_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::uint8_t kUnverified = 0, kVerifying = 1, kVerified = 2;
  std::unique_ptr<std::atomic<std::uint8_t>[]> state_;
  std::atomic<std::uint64_t> verified_{0};
};

}  // namespace

struct Dataset::Impl {
  DatasetSource source = DatasetSource::strata;
  std::string file;
  std::string name;
  DType dtype = DType::u8;
  Shape shape;
  std::shared_ptr<const StrataFile> strata;
  const ArrayInfo* array = nullptr;
  std::shared_ptr<ChunkVerification> verification;  // .strata only
  std::shared_ptr<const Hdf5Dataset> hdf5;
};

struct Partition::Impl {
  // A .strata partition views the mapped file (kept open by the shared pointer) ...
  std::shared_ptr<const StrataFile> strata;
  const ArrayInfo* array = nullptr;
  std::uint64_t first_byte = 0;
  std::shared_ptr<ChunkVerification> verification;  // shared by the Dataset's partitions
  // ... an HDF5 partition owns the rows it read.
  std::vector<std::byte> owned;
  std::uint64_t bytes = 0;
  std::string file;
};

std::span<const std::byte> Partition::bytes(std::uint64_t offset, std::uint64_t n) const& {
  if (offset > impl_->bytes || n > impl_->bytes - offset) {
    throw Error(ErrorCategory::invalid_argument, "range outside the partition",
                {{"offset", std::to_string(offset)}, {"bytes", std::to_string(n)},
                 {"partition_bytes", std::to_string(impl_->bytes)}});
  }
  if (!impl_->strata) return std::span<const std::byte>(impl_->owned).subspan(offset, n);
  const ArrayInfo& a = *impl_->array;
  const std::uint64_t first = impl_->first_byte + offset;
  if (n > 0) {
    for (std::uint64_t c = first / a.chunk_bytes; c <= (first + n - 1) / a.chunk_bytes; ++c) {
      impl_->verification->once(c, [&] {
        // A view of the whole chunk makes the file check its checksum (in this thread).
        const std::uint64_t begin = c * a.chunk_bytes;
        impl_->strata->bytes(a, begin, std::min(a.chunk_bytes, a.data_bytes - begin));
      });
    }
  }
  return impl_->strata->bytes(a, first, n);  // every chunk verified: checks the file's size only
}

void Partition::read(std::uint64_t offset, std::span<std::byte> out) const {
  const std::uint64_t n = out.size();
  if (offset > impl_->bytes || n > impl_->bytes - offset) {
    throw Error(ErrorCategory::invalid_argument, "range outside the partition",
                {{"offset", std::to_string(offset)},
                 {"bytes", std::to_string(n)},
                 {"partition_bytes", std::to_string(impl_->bytes)}});
  }
  if (n == 0) return;
  if (!impl_->strata) {
    std::memcpy(out.data(), impl_->owned.data() + offset, n);
    return;
  }
  const ArrayInfo& a = *impl_->array;
  const std::uint64_t first = impl_->first_byte + offset;
  impl_->strata->read_unverified(a, first, out);
  for (std::uint64_t c = first / a.chunk_bytes; c <= (first + n - 1) / a.chunk_bytes; ++c) {
    const std::uint64_t begin = c * a.chunk_bytes;
    const std::uint64_t size = std::min(a.chunk_bytes, a.data_bytes - begin);
    impl_->verification->once(c, [&] {
      if (begin >= first && begin + size <= first + n) {
        impl_->strata->check_chunk(a, c, out.subspan(begin - first, size));  // the copy, in cache
      } else {
        impl_->strata->bytes(a, begin, size);  // held in part: checked through the mapping
      }
    });
  }
}

const std::byte* Partition::mapped_address() const noexcept {
  if (!impl_->strata || impl_->bytes == 0) return nullptr;
  const std::byte* data = impl_->strata->mapped_data(*impl_->array);
  return data == nullptr ? nullptr : data + impl_->first_byte;
}

const std::string& Partition::file() const noexcept { return impl_->file; }

std::uint64_t Partition::checksum_chunk_bytes() const noexcept {
  return impl_->strata ? impl_->array->chunk_bytes : 0;
}

std::uint64_t Partition::checksum_chunk_offset() const noexcept {
  return impl_->strata ? impl_->first_byte % impl_->array->chunk_bytes : 0;
}

std::uint64_t Partition::chunks_verified() const noexcept {
  return impl_->verification ? impl_->verification->verified() : 0;
}

void Partition::check_dtype(DType wanted) const {
  if (wanted != dtype_) {
    throw Error(ErrorCategory::invalid_argument,
                "dataset holds " + std::string(to_string(dtype_)) + ", not " + std::string(to_string(wanted)),
                {{"dtype", std::string(to_string(dtype_))}, {"requested", std::string(to_string(wanted))}});
  }
}

Dataset::Dataset(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Dataset Dataset::open(const std::string& given) {
  auto impl = std::make_shared<Impl>();
  std::string spec = given;
  if (spec.find(":/") == std::string::npos) {
    // "file.h5:fields/energy", as h5py names a dataset: the path is taken from the root. Split at
    // the last ':' whose left side is an HDF5 file, so a name holding ':' still works.
    for (std::size_t colon = spec.rfind(':'); colon != std::string::npos && colon > 0;
         colon = spec.rfind(':', colon - 1)) {
      if (colon + 1 < spec.size() && is_hdf5_file(spec.substr(0, colon))) {
        spec = spec.substr(0, colon) + ":/" + spec.substr(colon + 1);
        break;
      }
    }
  }
  if (spec.find(":/") != std::string::npos) {
    Hdf5Path path = Hdf5Path::parse(spec);
    auto h = std::make_shared<const Hdf5Dataset>(Hdf5Dataset::open(path));
    impl->source = DatasetSource::hdf5;
    impl->file = path.file;
    impl->name = path.dataset;
    impl->dtype = h->dtype();
    impl->shape = h->shape();
    impl->hdf5 = std::move(h);
    return Dataset(std::move(impl));
  }
  // "file.strata:array" — the array name follows the last ':' after the last '/'.
  std::string file = spec, array;
  std::size_t slash = spec.rfind('/');
  std::size_t colon = spec.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    file = spec.substr(0, colon);
    array = spec.substr(colon + 1);
  }
  if (is_hdf5_file(file)) {
    throw Error(ErrorCategory::invalid_argument,
                "an HDF5 file needs the dataset's path: FILE.h5:/group/dataset", {{"spec", spec}});
  }
  auto f = std::make_shared<const StrataFile>(StrataFile::open(file));
  const ArrayInfo* info = nullptr;
  if (!array.empty()) {
    info = &f->array(array);
  } else if (f->arrays().size() == 1) {
    info = &f->arrays().front();
  } else {
    std::string names;
    for (const auto& a : f->arrays()) names += (names.empty() ? "" : ", ") + a.name;
    throw Error(ErrorCategory::invalid_argument, "the file has several arrays: name one as FILE:ARRAY",
                {{"spec", spec}, {"arrays", names}});
  }
  impl->source = DatasetSource::strata;
  impl->file = file;
  impl->name = info->name;
  impl->dtype = info->dtype;
  impl->shape = info->shape;
  impl->array = info;
  impl->verification = std::make_shared<ChunkVerification>(info->chunk_count);
  impl->strata = std::move(f);
  return Dataset(std::move(impl));
}

DatasetSource Dataset::source() const noexcept { return impl_->source; }
const std::string& Dataset::file() const noexcept { return impl_->file; }
const std::string& Dataset::name() const noexcept { return impl_->name; }
DType Dataset::dtype() const noexcept { return impl_->dtype; }
const Shape& Dataset::shape() const noexcept { return impl_->shape; }

Partition Dataset::partition(int rank, int size, Progress* progress) const {
  RowRange rows = partition_rows(this->rows(), rank, size);
  const std::uint64_t row_bytes = impl_->shape.row_elements() * dtype_bytes(impl_->dtype);
  auto p = std::make_shared<Partition::Impl>();
  p->bytes = rows.count * row_bytes;
  p->file = impl_->file;
  if (impl_->strata) {
    p->strata = impl_->strata;
    p->array = impl_->array;
    p->first_byte = rows.first * row_bytes;
    p->verification = impl_->verification;
  } else {
    // Refuses what cannot fit.
    p->owned = impl_->hdf5->read_rows(rows.first, rows.count, progress);
  }
  Shape shape;
  shape.push_back(rows.count);
  for (std::size_t d = 1; d < impl_->shape.rank(); ++d) shape.push_back(impl_->shape[d]);
  return Partition(std::move(p), rows, impl_->dtype, shape);
}

}  // namespace strata::io
