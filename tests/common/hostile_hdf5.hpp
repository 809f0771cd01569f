// SPDX-License-Identifier: Apache-2.0
// A corpus of HDF5 datasets with hostile types and layouts in one file, written through the HDF5
// C API: every element type strata cannot hold, storage that lies about its size, and a filter
// the reader does not have. Each entry says what a reader must do with it.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace strata::test {

// What a reader of an entry must do.
enum class HostileExpectation {
  refuse,        // an error naming the type: strata has no such element type
  refuse_or_ok,  // a clean error, or a correct result (the test states which)
};

struct HostileHdf5Entry {
  std::string dataset;
  HostileExpectation expect;
};

// The id of a filter registered only in the writing process (in the range HDF5 leaves for
// testing), so a reader in another process meets chunks it cannot decode.
inline constexpr H5Z_filter_t kUnavailableFilter = 32100;

namespace detail {

// The filter that writes the corpus: passes bytes through unchanged.
inline std::size_t pass_through(unsigned, std::size_t, const unsigned[], std::size_t nbytes,
                                std::size_t*, void**) {
  return nbytes;
}

// Creates `name` of `type` over `dims` (nullptr: scalar), writes `data` when given, closes it.
inline void add(hid_t file, const char* name, hid_t type, std::vector<hsize_t> dims,
                const void* data = nullptr, hid_t memory_type = -1, hid_t dcpl = H5P_DEFAULT,
                const hsize_t* max_dims = nullptr) {
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims);
  ASSERT_GE(space, 0) << name;
  hid_t ds = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(ds, 0) << name;
  if (data != nullptr) {
    ASSERT_GE(
        H5Dwrite(ds, memory_type < 0 ? type : memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0)
        << name;
  }
  H5Dclose(ds);
  H5Sclose(space);
}

}  // namespace detail

// Values written to /big_endian (as IEEE f64 big-endian): a reader that converts gets these.
inline const double kBigEndianValues[4] = {1.5, -2.0, 4.25, 8.0};

// Writes the corpus into `file` (replacing it) and returns its entries.
inline std::vector<HostileHdf5Entry> write_hostile_hdf5(const std::string& file) {
  using detail::add;
  std::vector<HostileHdf5Entry> entries;
  hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  if (f < 0) return entries;
  const auto refuse = [&](const char* name) {
    entries.push_back({name, HostileExpectation::refuse});
  };

  hid_t compound = H5Tcreate(H5T_COMPOUND, 16);
  H5Tinsert(compound, "x", 0, H5T_NATIVE_DOUBLE);
  H5Tinsert(compound, "n", 8, H5T_NATIVE_INT64);
  add(f, "/compound", compound, {4});
  refuse("/compound");

  hid_t vlen = H5Tvlen_create(H5T_NATIVE_UINT8);
  add(f, "/vlen", vlen, {4});
  refuse("/vlen");

  hid_t enumeration = H5Tenum_create(H5T_NATIVE_INT32);
  const int on = 1;
  H5Tenum_insert(enumeration, "on", &on);
  add(f, "/enum", enumeration, {4});
  refuse("/enum");

  const hsize_t three = 3;
  hid_t array = H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, &three);
  add(f, "/array", array, {4});
  refuse("/array");

  hid_t opaque = H5Tcreate(H5T_OPAQUE, 8);
  H5Tset_tag(opaque, "strata-test");
  add(f, "/opaque", opaque, {4});
  refuse("/opaque");

  // 128-bit floats (x86's long double, 80 bits in 16 bytes) and 128-bit integers.
  add(f, "/float128", H5T_NATIVE_LDOUBLE, {4});
  refuse("/float128");
  hid_t int128 = H5Tcopy(H5T_STD_I64LE);
  H5Tset_size(int128, 16);
  H5Tset_precision(int128, 128);
  add(f, "/int128", int128, {4});
  refuse("/int128");

  add(f, "/bitfield", H5T_STD_B8LE, {4});
  refuse("/bitfield");

  hid_t fixed = H5Tcopy(H5T_C_S1);
  H5Tset_size(fixed, 8);
  add(f, "/string", fixed, {4});
  refuse("/string");
  hid_t variable = H5Tcopy(H5T_C_S1);
  H5Tset_size(variable, H5T_VARIABLE);
  add(f, "/vstring", variable, {4});
  refuse("/vstring");

  add(f, "/reference", H5T_STD_REF_OBJ, {4});
  refuse("/reference");
  add(f, "/region_reference", H5T_STD_REF_DSETREG, {4});
  refuse("/region_reference");

  // Readable after conversion: the test checks the values arrive, not only that nothing crashed.
  add(f, "/big_endian", H5T_IEEE_F64BE, {4}, kBigEndianValues, H5T_NATIVE_DOUBLE);
  entries.push_back({"/big_endian", HostileExpectation::refuse_or_ok});

  add(f, "/zero_rows", H5T_IEEE_F64LE, {0});
  entries.push_back({"/zero_rows", HostileExpectation::refuse_or_ok});
  add(f, "/zero_columns", H5T_IEEE_F64LE, {4, 0});
  entries.push_back({"/zero_columns", HostileExpectation::refuse_or_ok});

  // Never written, chunked: a few bytes on disk. 2^61 f64 elements are 2^64 bytes, one more than
  // a 64-bit byte count holds; 2^31 x 2^31 x 2^2 elements wrap an element count to 0.
  hid_t chunked = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t chunk1[1] = {1 << 16};
  H5Pset_chunk(chunked, 1, chunk1);
  add(f, "/huge_bytes", H5T_IEEE_F64LE, {hsize_t{1} << 61}, nullptr, -1, chunked);
  entries.push_back({"/huge_bytes", HostileExpectation::refuse_or_ok});
  hid_t chunked3 = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t chunk3[3] = {1, 1 << 10, 4};
  H5Pset_chunk(chunked3, 3, chunk3);
  add(f, "/wrapping_count", H5T_IEEE_F64LE, {hsize_t{1} << 31, hsize_t{1} << 31, 4}, nullptr, -1,
      chunked3);
  entries.push_back({"/wrapping_count", HostileExpectation::refuse_or_ok});

  // Four values in an extendible dataset whose one chunk would be 2 GiB; never written.
  hid_t absurd = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t big_chunk[1] = {hsize_t{1} << 28};
  H5Pset_chunk(absurd, 1, big_chunk);
  const hsize_t unlimited[1] = {H5S_UNLIMITED};
  add(f, "/absurd_chunk", H5T_IEEE_F64LE, {4}, nullptr, -1, absurd, unlimited);
  entries.push_back({"/absurd_chunk", HostileExpectation::refuse_or_ok});

  // Chunks encoded by a filter only this process has: a reader must say it cannot decode them.
  const H5Z_class2_t filter = {
      H5Z_CLASS_T_VERS, kUnavailableFilter,  1, 1, "strata-test-only", nullptr,
      nullptr,          detail::pass_through};
  EXPECT_GE(H5Zregister(&filter), 0);
  hid_t filtered = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t chunk4[1] = {4};
  H5Pset_chunk(filtered, 1, chunk4);
  H5Pset_filter(filtered, kUnavailableFilter, H5Z_FLAG_MANDATORY, 0, nullptr);
  const double four[4] = {1, 2, 3, 4};
  add(f, "/unavailable_filter", H5T_IEEE_F64LE, {4}, four, H5T_NATIVE_DOUBLE, filtered);
  entries.push_back({"/unavailable_filter", HostileExpectation::refuse_or_ok});

  for (hid_t t : {compound, vlen, enumeration, array, opaque, int128, fixed, variable}) H5Tclose(t);
  for (hid_t p : {chunked, chunked3, absurd, filtered}) H5Pclose(p);
  EXPECT_GE(H5Fclose(f), 0);
  H5Zunregister(kUnavailableFilter);
  return entries;
}

}  // namespace strata::test
