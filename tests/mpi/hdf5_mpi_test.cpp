// SPDX-License-Identifier: Apache-2.0
// Parallel HDF5 reads under mpiexec with 2 and 4 ranks: rank 0 writes files through the HDF5 C
// API, then every rank opens them collectively and reads its partition through MPI-IO. Each rank
// must hold exactly its rows, and the ranks' rows in rank order must be the whole dataset.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "strata/io/hdf5/hdf5.hpp"
#include "strata/runtime/base/error.hpp"
#include "strata/runtime/cluster/mpi_context.hpp"

namespace {

namespace fs = std::filesystem;

const strata::MpiContext* the_mpi = nullptr;
std::string the_dir;  // shared by all ranks (one machine), chosen by rank 0

const strata::MpiContext& mpi() { return *the_mpi; }

// The test's own values: element i of every dataset.
template <class T>
T value_at(std::size_t i) {
  return static_cast<T>(static_cast<double>(i) * 0.5 - 7.0);
}

// Rank 0 writes `rows` x `columns` values of T as `name` in `file` (contiguous unless chunk_rows
// is given, then chunked and gzip-compressed); every rank waits until the file is complete.
template <class T>
void write_on_rank0(const std::string& file, const char* name, hid_t file_type, hid_t memory_type,
                    hsize_t rows, hsize_t columns, hsize_t chunk_rows = 0) {
  if (mpi().rank() == 0) {
    std::vector<T> data(rows * columns);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = value_at<T>(i);
    hid_t f = fs::exists(file) ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                               : H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[2] = {rows, columns};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk_rows > 0) {
      const hsize_t chunk[2] = {chunk_rows, columns};
      H5Pset_chunk(dcpl, 2, chunk);
      H5Pset_deflate(dcpl, 6);
    }
    hid_t d = H5Dcreate2(f, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    EXPECT_GE(H5Dwrite(d, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    EXPECT_GE(H5Fclose(f), 0);
  }
  mpi().barrier();
}

// The rows each rank must get, from the words of docs/formats.md rather than the closed form
// the code uses: the first rows % size ranks take one row more; ranks start where the previous
// one ended.
std::vector<std::uint64_t> expected_counts(std::uint64_t rows, int size) {
  const auto n = static_cast<std::uint64_t>(size);
  std::vector<std::uint64_t> counts;
  for (std::uint64_t r = 0; r < n; ++r) counts.push_back(rows / n + (r < rows % n ? 1 : 0));
  return counts;
}

// Reads `name` collectively and checks this rank's rows and the union over ranks.
template <class T>
void expect_partitioned_read(const std::string& file, const char* name, std::uint64_t rows,
                             std::uint64_t columns, bool must_be_collective) {
  SCOPED_TRACE(name);
  const auto ds = strata::io::Hdf5Dataset::open_collective({file, name});
  EXPECT_TRUE(ds.collective());
  EXPECT_EQ(ds.rank(), mpi().rank());
  EXPECT_EQ(ds.size(), mpi().size());
  EXPECT_EQ(ds.rows(), rows);

  const auto counts = expected_counts(rows, mpi().size());
  std::uint64_t first = 0;
  for (int r = 0; r < mpi().rank(); ++r) first += counts[static_cast<std::size_t>(r)];
  const std::uint64_t count = counts[static_cast<std::size_t>(mpi().rank())];

  std::vector<T> mine(count * columns);
  bool collective_transfer = false;
  const auto range =
      ds.read_partition(std::as_writable_bytes(std::span(mine)), &collective_transfer);
  EXPECT_EQ(range.first, first);
  EXPECT_EQ(range.count, count);
  for (std::size_t i = 0; i < mine.size(); ++i) {
    ASSERT_EQ(mine[i], value_at<T>(first * columns + i)) << "element " << i;
  }
  if (must_be_collective) {
    EXPECT_TRUE(collective_transfer);
  }

  const auto parts = mpi().allgather_bytes(std::as_bytes(std::span(mine)));
  std::vector<T> whole;
  for (const auto& part : parts) {
    const std::size_t n = part.size() / sizeof(T);
    const std::size_t at = whole.size();
    whole.resize(at + n);
    std::memcpy(whole.data() + at, part.data(), part.size());
  }
  ASSERT_EQ(whole.size(), rows * columns);
  for (std::size_t i = 0; i < whole.size(); ++i) {
    ASSERT_EQ(whole[i], value_at<T>(i)) << "element " << i;
  }
}

// A contiguous f64 dataset with a row count that does not divide by the rank count: each rank
// gets exactly its rows in one collective MPI-IO transfer, and together they are the dataset.
TEST(Hdf5Mpi, ContiguousPartitionsAreExactAndCoverTheDataset) {
  const std::string file = the_dir + "/contiguous.h5";
  write_on_rank0<double>(file, "/x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1001, 3);
  expect_partitioned_read<double>(file, "/x", 1001, 3, true);
}

// A chunked, gzip-compressed i32 dataset read in parallel gives the same exact partitions.
TEST(Hdf5Mpi, ChunkedGzipPartitionsAreExact) {
  const std::string file = the_dir + "/chunked.h5";
  write_on_rank0<std::int32_t>(file, "/ids", H5T_STD_I32LE, H5T_NATIVE_INT32, 37, 5, 4);
  expect_partitioned_read<std::int32_t>(file, "/ids", 37, 5, false);
}

// With fewer rows than ranks the last rank gets none, still takes part in the collective
// transfer (no hang), and the others get one row each.
TEST(Hdf5Mpi, RanksWithoutRowsTakePartInTheCollectiveRead) {
  const std::string file = the_dir + "/few.h5";
  const auto rows = static_cast<hsize_t>(mpi().size() - 1);
  write_on_rank0<float>(file, "/few", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rows, 2);
  expect_partitioned_read<float>(file, "/few", rows, 2, false);
}

// Independent reads of any rows work on a collectively opened file: every rank reads the last
// rank's rows and sees the same values that rank gets.
TEST(Hdf5Mpi, IndependentRowReadsOnACollectiveFile) {
  const std::string file = the_dir + "/independent.h5";
  write_on_rank0<double>(file, "/x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 10, 4);
  const auto ds = strata::io::Hdf5Dataset::open_collective({file, "/x"});
  const auto last = strata::io::partition_rows(10, mpi().size() - 1, mpi().size());
  std::vector<double> rows(last.count * 4);
  ds.read_rows(last.first, last.count, std::as_writable_bytes(std::span(rows)));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i], value_at<double>(last.first * 4 + i));
  }
}

// One rank passing a buffer of the wrong size makes every rank throw invalid_argument before
// the collective transfer, instead of leaving the others waiting in it.
TEST(Hdf5Mpi, AWrongBufferOnOneRankFailsEveryRank) {
  const std::string file = the_dir + "/agree.h5";
  write_on_rank0<double>(file, "/x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, 2);
  const auto ds = strata::io::Hdf5Dataset::open_collective({file, "/x"});
  std::vector<double> buffer(ds.partition().count * 2 + (mpi().rank() == 1 ? 1 : 0));
  try {
    ds.read_partition(std::as_writable_bytes(std::span(buffer)));
    ADD_FAILURE() << "rank " << mpi().rank() << " did not throw";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::invalid_argument) << e.what();
  }
  // The file is still usable collectively afterwards: a correct read succeeds on every rank.
  std::vector<double> right(ds.partition().count * 2);
  EXPECT_NO_THROW(ds.read_partition(std::as_writable_bytes(std::span(right))));
}

// A missing file fails collective open on every rank with Error(io), and no rank hangs.
TEST(Hdf5Mpi, MissingFileFailsEveryRank) {
  try {
    strata::io::Hdf5Dataset::open_collective({the_dir + "/absent.h5", "/x"});
    ADD_FAILURE() << "no error";
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.category(), strata::ErrorCategory::io) << e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  strata::MpiContext context(argc, argv);
  the_mpi = &context;
  ::testing::InitGoogleTest(&argc, argv);
  if (context.rank() != 0) GTEST_FLAG_SET(brief, true);

  std::string dir;
  if (context.rank() == 0) {
    dir = (fs::temp_directory_path() / ("strata-hdf5-mpi-" + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
  }
  const auto shared = context.broadcast_bytes(std::as_bytes(std::span(dir)), 0);
  the_dir.assign(reinterpret_cast<const char*>(shared.data()), shared.size());

  const int failed = RUN_ALL_TESTS();
  context.barrier();
  if (context.rank() == 0) fs::remove_all(the_dir);
  const bool any_failed = context.allreduce_or(failed != 0);
  return any_failed ? 1 : 0;
}
