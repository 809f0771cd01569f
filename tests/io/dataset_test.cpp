// SPDX-License-Identifier: Apache-2.0
// Tests of Dataset and Partition: opening by spec, the documented row split, zero-copy .strata
// partitions and HDF5 hyperslab partitions (HDF5 files made through the C API here).
#include "strata/io/dataset/dataset.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>
#include <numeric>

#include "strata/io/format/strata_writer.hpp"

namespace {

namespace fs = std::filesystem;
using strata::DType;
using strata::io::Dataset;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("strata-ds-" + std::to_string(getpid()) + "-" + name)).string();
}

// A .strata file with "a": i64 [10, 3] holding 0..29 and "b": f64 [4].
std::string write_two_arrays() {
  std::vector<std::int64_t> a(30);
  std::iota(a.begin(), a.end(), 0);
  std::vector<double> b{1.5, 2.5, 3.5, 4.5};
  strata::io::StrataWriter w(temp("two.strata"), {{"a", DType::i64, {10, 3}, 4096}, {"b", DType::f64, {4}, 4096}});
  w.append(0, std::as_bytes(std::span(a)));
  w.append(1, std::as_bytes(std::span(b)));
  w.finish();
  return temp("two.strata");
}

// Proves partitions follow the documented rule (10 rows over 4 ranks: 3, 3, 2, 2) and together
// hold exactly the array, row by row.
TEST(Dataset, StrataPartitionsFollowTheRule) {
  Dataset ds = Dataset::open(write_two_arrays() + ":a");
  EXPECT_EQ(ds.source(), strata::io::DatasetSource::strata);
  EXPECT_EQ(ds.shape(), (strata::Shape{10, 3}));
  const std::uint64_t firsts[] = {0, 3, 6, 8}, counts[] = {3, 3, 2, 2};
  std::vector<std::int64_t> seen;
  for (int r = 0; r < 4; ++r) {
    auto p = ds.partition(r, 4);
    EXPECT_EQ(p.rows().first, firsts[r]);
    EXPECT_EQ(p.rows().count, counts[r]);
    EXPECT_EQ(p.shape(), (strata::Shape{counts[r], 3}));
    auto v = p.as<std::int64_t>();
    seen.insert(seen.end(), v.begin(), v.end());
  }
  std::vector<std::int64_t> all(30);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(seen, all);
  auto empty = Dataset::open(temp("two.strata") + ":b").partition(5, 6);  // 4 rows over 6 ranks
  EXPECT_EQ(empty.rows().count, 0u);
  EXPECT_TRUE(empty.bytes().empty());
  fs::remove(temp("two.strata"));
}

// Proves a file with several arrays needs a name, unknown names are errors, and a wrong element
// type is refused rather than reinterpreted.
TEST(Dataset, SpecsAndTypesAreChecked) {
  std::string file = write_two_arrays();
  EXPECT_THROW(Dataset::open(file), strata::Error);
  EXPECT_THROW(Dataset::open(file + ":nope"), strata::Error);
  auto p = Dataset::open(file + ":b").partition(0, 1);
  EXPECT_EQ(p.as<double>()[3], 4.5);
  try {
    (void)p.as<float>();
    FAIL();
  } catch (const strata::Error& e) {
    EXPECT_EQ(e.context_value("dtype"), "f64");
  }
  fs::remove(file);
}

// Proves an HDF5 dataset (written here with the C API) is partitioned by hyperslab with the same
// rule, and an HDF5 file named without a dataset path is a clear error.
TEST(Dataset, Hdf5PartitionsReadTheirHyperslab) {
  std::string file = temp("x.h5");
  std::vector<std::int32_t> data(7 * 2);
  std::iota(data.begin(), data.end(), 100);
  {
    hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {7, 2};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t d = H5Dcreate2(f, "/x", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(f);
  }
  Dataset ds = Dataset::open(file + ":/x");
  EXPECT_EQ(ds.source(), strata::io::DatasetSource::hdf5);
  EXPECT_EQ(ds.dtype(), DType::i32);
  auto p = ds.partition(1, 2);  // 7 rows over 2 ranks: rows 4..6
  EXPECT_EQ(p.rows().first, 4u);
  EXPECT_EQ(p.rows().count, 3u);
  auto v = p.as<std::int32_t>();
  EXPECT_EQ(std::vector<std::int32_t>(v.begin(), v.end()),
            std::vector<std::int32_t>(data.begin() + 8, data.end()));
  EXPECT_THROW(Dataset::open(file), strata::Error);
  fs::remove(file);
}

}  // namespace
