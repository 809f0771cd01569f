// SPDX-License-Identifier: Apache-2.0
// An HDF5 file holding one chunked f64 dataset whose values were never written: a few KiB on
// disk however many elements it claims, for tests of sizes beyond any machine's memory.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>

#include <string>

namespace strata::test {

inline void write_unwritten_hdf5(const std::string& file, const char* dataset, hsize_t elements) {
  hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0) << file;
  const hsize_t chunk = 1 << 16;
  hid_t space = H5Screate_simple(1, &elements, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  H5Dclose(H5Dcreate2(f, dataset, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  H5Pclose(dcpl);
  H5Sclose(space);
  ASSERT_GE(H5Fclose(f), 0);
}

}  // namespace strata::test
