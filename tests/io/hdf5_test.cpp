// SPDX-License-Identifier: Apache-2.0
// Tests of HDF5 interop. Input files are made here through the HDF5 C API (contiguous, chunked +
// gzip, every dtype in both byte orders, rank 3, odd row counts), never through strata's export;
// exports are checked by h5dump and h5ls (hdf5-tools, run as subprocesses) and by the C API.
#include "strata/io/hdf5/hdf5.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <type_traits>
#include <vector>

#include "common/scratch_folder.hpp"
#include "common/unwritten_hdf5.hpp"
#include "strata/io/format/strata_file.hpp"
#include "strata/io/format/strata_writer.hpp"
#include "strata/runtime/base/error.hpp"

namespace {

namespace fs = std::filesystem;
using strata::DType;
using strata::ErrorCategory;
using strata::Shape;
using strata::io::Hdf5Dataset;
using strata::io::Hdf5Path;

// The test's own data: values spread over the whole range of T (the top bits vary, so signed
// types get negatives), so a truncating, sign-losing or byte-swapping conversion shows. Floats are
// quarters, exact in binary and printed exactly by h5dump.
template <class T>
T value_at(std::size_t i) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(static_cast<double>(i) * 0.25 - 3.5);
  } else {
    using U = std::make_unsigned_t<T>;
    const std::uint64_t mixed = (static_cast<std::uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull;
    return static_cast<T>(static_cast<U>(mixed >> (64 - 8 * sizeof(T))));
  }
}

template <class T>
std::vector<T> values(std::size_t n, std::size_t first = 0) {
  std::vector<T> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = value_at<T>(first + i);
  return out;
}

// Runs a shell command and returns its standard output; fails the test on a non-zero exit.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run: " << command;
    return out;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << out;
  return out;
}

// The numbers between "DATA {" and its closing brace in `h5dump -y -w0` output.
std::vector<double> h5dump_numbers(const std::string& dump) {
  std::vector<double> out;
  const std::size_t begin = dump.find("DATA {");
  const std::size_t end = dump.find('}', begin);
  if (begin == std::string::npos || end == std::string::npos) return out;
  const std::string data = dump.substr(begin + 6, end - begin - 6);
  static const std::regex number(R"(-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?)");
  for (auto it = std::sregex_iterator(data.begin(), data.end(), number);
       it != std::sregex_iterator(); ++it) {
    out.push_back(std::stod(it->str()));
  }
  return out;
}

// The whole of an integer dataset as h5dump prints it, kept as text: doubles cannot hold u64.
std::vector<std::string> h5dump_integers(const std::string& dump) {
  std::vector<std::string> out;
  const std::size_t begin = dump.find("DATA {");
  const std::size_t end = dump.find('}', begin);
  if (begin == std::string::npos || end == std::string::npos) return out;
  const std::string data = dump.substr(begin + 6, end - begin - 6);
  static const std::regex number(R"(-?[0-9]+)");
  for (auto it = std::sregex_iterator(data.begin(), data.end(), number);
       it != std::sregex_iterator(); ++it) {
    out.push_back(it->str());
  }
  return out;
}

class Hdf5Test : public strata::test::ScratchFolderTest {
 protected:
  Hdf5Test() : ScratchFolderTest("strata-hdf5") {}

  // Writes `data` as dataset `name` of `file_type` into `file` (created if missing) with the
  // HDF5 C API, optionally chunked and gzip-compressed; intermediate groups are created.
  static void write_h5(const std::string& file, const std::string& name, hid_t file_type,
                       hid_t memory_type, const std::vector<hsize_t>& dims, const void* data,
                       const std::vector<hsize_t>& chunk = {}, unsigned gzip = 0) {
    hid_t f = fs::exists(file) ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                               : H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!chunk.empty()) {
      ASSERT_GE(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), 0);
    }
    if (gzip > 0) {
      ASSERT_GE(H5Pset_deflate(dcpl, gzip), 0);
    }
    hid_t d = H5Dcreate2(f, name.c_str(), file_type, space, lcpl, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    ASSERT_GE(H5Dwrite(d, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    ASSERT_GE(H5Fclose(f), 0);
  }

  // Reads a whole dataset back through the C API, converted to `memory_type`.
  template <class T>
  static std::vector<T> read_h5(const std::string& file, const std::string& name, hid_t memory_type,
                                std::size_t n) {
    std::vector<T> out(n);
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GE(f, 0);
    hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
    EXPECT_GE(d, 0);
    EXPECT_GE(H5Dread(d, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0);
    H5Dclose(d);
    H5Fclose(f);
    return out;
  }

  // The single array of a `.strata` file, as T.
  template <class T>
  static std::vector<T> strata_values(const std::string& file, const std::string& array) {
    const auto f = strata::io::StrataFile::open(file);
    const auto& info = f.array(array);
    std::vector<T> out(info.data_bytes / sizeof(T));
    f.read(info, 0, std::as_writable_bytes(std::span(out)));
    return out;
  }

  // Imports `data` written as `file_type` and checks dtype, shape and every value.
  template <class T>
  void expect_import_of_type(hid_t file_type, hid_t memory_type, DType expected) {
    SCOPED_TRACE(std::string(strata::to_string(expected)));
    const std::string h5 = path("t.h5");
    const std::string out = path("t.strata");
    fs::remove(h5);
    fs::remove(out);
    const auto data = values<T>(37 * 2);
    write_h5(h5, "/v", file_type, memory_type, {37, 2}, data.data());
    const auto result = strata::io::import_hdf5(Hdf5Path::parse(h5 + ":/v"), out);
    EXPECT_EQ(result.dtype, expected);
    const auto f = strata::io::StrataFile::open(out);
    EXPECT_EQ(f.array("v").dtype, expected);
    EXPECT_EQ(f.array("v").shape, (Shape{37, 2}));
    EXPECT_EQ(strata_values<T>(out, "v"), data);
  }

  // Expects `fn` to throw strata::Error of `category` whose context has key = value.
  template <class Fn>
  static strata::Error expect_error(Fn&& fn, ErrorCategory category) {
    try {
      fn();
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), category) << e.what();
      return e;
    }
    ADD_FAILURE() << "no strata::Error thrown";
    return strata::Error(ErrorCategory::system, "none");
  }

};

std::string metadata_value(const strata::io::Metadata& metadata, const std::string& key) {
  for (const auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return "<absent>";
}

// Proves "file:/path" splits at the last ":/" and malformed specs are errors naming the spec.
TEST(Hdf5PathTest, ParsesAndRejectsMalformedSpecs) {
  const auto p = Hdf5Path::parse("run-12:30.h5:/fields/energy");
  EXPECT_EQ(p.file, "run-12:30.h5");
  EXPECT_EQ(p.dataset, "/fields/energy");
  EXPECT_EQ(p.leaf(), "energy");
  EXPECT_EQ(p.to_string(), "run-12:30.h5:/fields/energy");
  EXPECT_EQ(Hdf5Path::parse("dir:/a.h5:/x").file, "dir:/a.h5");
  for (const char* bad :
       {"data.h5", "data.h5:x", ":/x", "data.h5:/", "data.h5:/a//b", "data.h5:/a/"}) {
    try {
      Hdf5Path::parse(bad);
      ADD_FAILURE() << bad << " parsed";
    } catch (const strata::Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::invalid_argument);
      EXPECT_EQ(e.context_value("spec"), bad);
    }
  }
}

// Proves the partition rule of docs/formats.md with hand-computed ranges, including ranks that
// get no rows, and that a bad rank or size is refused.
TEST(Hdf5PartitionTest, FollowsTheDocumentedRemainderRule) {
  using strata::io::partition_rows;
  const std::uint64_t expected_10_of_4[4][2] = {{0, 3}, {3, 3}, {6, 2}, {8, 2}};
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(partition_rows(10, r, 4).first, expected_10_of_4[r][0]) << r;
    EXPECT_EQ(partition_rows(10, r, 4).count, expected_10_of_4[r][1]) << r;
  }
  const std::uint64_t expected_2_of_4[4][2] = {{0, 1}, {1, 1}, {2, 0}, {2, 0}};
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(partition_rows(2, r, 4).first, expected_2_of_4[r][0]) << r;
    EXPECT_EQ(partition_rows(2, r, 4).count, expected_2_of_4[r][1]) << r;
  }
  EXPECT_THROW(partition_rows(10, 4, 4), strata::Error);
  EXPECT_THROW(partition_rows(10, 0, 0), strata::Error);
}

// Proves a contiguous f64 dataset with an odd row count imports value for value, and that the
// provenance (absolute file, dataset path, HDF5 type, layout, filters) lands in the metadata.
TEST_F(Hdf5Test, ImportsContiguousDatasetWithProvenance) {
  const auto data = values<double>(1001 * 3);
  write_h5(path("in.h5"), "/fields/energy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {1001, 3},
           data.data());
  const auto result =
      strata::io::import_hdf5(Hdf5Path::parse(path("in.h5") + ":/fields/energy"),
                              path("out.strata"), {.metadata = {{"note", "from the test"}}});
  EXPECT_EQ(result.array_name, "energy");
  EXPECT_EQ(result.data_bytes, 1001u * 3 * 8);
  EXPECT_EQ(result.slabs, 1u);  // 24 KiB fits one 64 MiB slab

  const auto f = strata::io::StrataFile::open(path("out.strata"));
  ASSERT_EQ(f.arrays().size(), 1u);
  EXPECT_EQ(f.array("energy").dtype, DType::f64);
  EXPECT_EQ(f.array("energy").shape, (Shape{1001, 3}));
  EXPECT_EQ(strata_values<double>(path("out.strata"), "energy"), data);
  EXPECT_TRUE(f.verify().ok());
  const auto& md = f.metadata();
  EXPECT_EQ(metadata_value(md, "source.format"), "hdf5");
  EXPECT_EQ(metadata_value(md, "source.file"), fs::absolute(path("in.h5")).string());
  EXPECT_EQ(metadata_value(md, "source.dataset"), "/fields/energy");
  EXPECT_EQ(metadata_value(md, "source.hdf5_type"), "H5T_IEEE_F64LE");
  EXPECT_EQ(metadata_value(md, "source.layout"), "contiguous");
  EXPECT_EQ(metadata_value(md, "source.filters"), "none");
  EXPECT_EQ(metadata_value(md, "note"), "from the test");
}

// Proves a chunked, gzip-compressed dataset imports exactly, read in slabs of whole chunk rows
// that stay under the memory bound: 4096-byte slabs of 20-byte rows hold 204 rows, rounded down
// to 192 (three 64-row chunks), so 777 rows take 5 slabs of at most 3840 bytes.
TEST_F(Hdf5Test, ImportsChunkedGzipDatasetInBoundedSlabs) {
  const auto data = values<std::int32_t>(777 * 5);
  write_h5(path("in.h5"), "/ids", H5T_STD_I32LE, H5T_NATIVE_INT32, {777, 5}, data.data(), {64, 5},
           6);
  const auto result =
      strata::io::import_hdf5(Hdf5Path::parse(path("in.h5") + ":/ids"), path("out.strata"),
                              {.array_name = "particle_ids", .slab_bytes = 4096});
  EXPECT_EQ(result.slabs, 5u);
  EXPECT_EQ(result.largest_slab_bytes, 3840u);
  EXPECT_EQ(strata_values<std::int32_t>(path("out.strata"), "particle_ids"), data);
  const auto f = strata::io::StrataFile::open(path("out.strata"));
  EXPECT_EQ(metadata_value(f.metadata(), "source.layout"), "chunked [64, 5]");
  EXPECT_EQ(metadata_value(f.metadata(), "source.filters"), "deflate");
}

// Proves every numeric type imports as its dtype with the same values, from little- and
// big-endian files alike (HDF5 converts to native order on read).
TEST_F(Hdf5Test, ImportsEveryNumericTypeInBothByteOrders) {
  expect_import_of_type<float>(H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, DType::f32);
  expect_import_of_type<double>(H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, DType::f64);
  expect_import_of_type<std::int8_t>(H5T_STD_I8LE, H5T_NATIVE_INT8, DType::i8);
  expect_import_of_type<std::int16_t>(H5T_STD_I16BE, H5T_NATIVE_INT16, DType::i16);
  expect_import_of_type<std::int32_t>(H5T_STD_I32BE, H5T_NATIVE_INT32, DType::i32);
  expect_import_of_type<std::int64_t>(H5T_STD_I64LE, H5T_NATIVE_INT64, DType::i64);
  expect_import_of_type<std::uint8_t>(H5T_STD_U8BE, H5T_NATIVE_UINT8, DType::u8);
  expect_import_of_type<std::uint16_t>(H5T_STD_U16LE, H5T_NATIVE_UINT16, DType::u16);
  expect_import_of_type<std::uint32_t>(H5T_STD_U32LE, H5T_NATIVE_UINT32, DType::u32);
  expect_import_of_type<std::uint64_t>(H5T_STD_U64BE, H5T_NATIVE_UINT64, DType::u64);
  expect_import_of_type<float>(H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, DType::f32);
  expect_import_of_type<std::int64_t>(H5T_STD_I64BE, H5T_NATIVE_INT64, DType::i64);
}

// Proves a rank-3 chunked gzip dataset imports exactly, including when one row (20 KiB) is
// larger than the slab (4 KiB): then slabs split the second dimension, whose steps are 512 bytes,
// so 8 fit; rounded down to the chunk extent 7, each row takes ceil(40 / 7) = 6 slabs, and 3 rows
// take 18 slabs of at most 7 * 512 = 3584 bytes.
TEST_F(Hdf5Test, ImportsRankThreeSplittingRowsLargerThanTheSlab) {
  const auto data = values<double>(3 * 40 * 64);
  write_h5(path("in.h5"), "/cube", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {3, 40, 64}, data.data(),
           {2, 7, 64}, 4);
  const auto result = strata::io::import_hdf5(Hdf5Path::parse(path("in.h5") + ":/cube"),
                                              path("out.strata"), {.slab_bytes = 4096});
  EXPECT_EQ(result.slabs, 18u);
  EXPECT_EQ(result.largest_slab_bytes, 3584u);
  EXPECT_EQ(result.shape, (Shape{3, 40, 64}));
  EXPECT_EQ(strata_values<double>(path("out.strata"), "cube"), data);

  const auto small = values<std::uint16_t>(5 * 4 * 3);
  write_h5(path("in.h5"), "/small", H5T_STD_U16LE, H5T_NATIVE_UINT16, {5, 4, 3}, small.data(),
           {2, 2, 3}, 9);
  strata::io::import_hdf5(Hdf5Path::parse(path("in.h5") + ":/small"), path("small.strata"));
  EXPECT_EQ(strata::io::StrataFile::open(path("small.strata")).array("small").shape,
            (Shape{5, 4, 3}));
  EXPECT_EQ(strata_values<std::uint16_t>(path("small.strata"), "small"), small);
}

// Proves a missing file is an io error and a missing path, a group, a non-HDF5 file, string,
// compound and enum types, a scalar and rank 9 are invalid_argument errors, each naming the file
// and the dataset (and the type, the missing group or the rank), and leave no output behind.
TEST_F(Hdf5Test, ImportErrorsNameFileDatasetAndCause) {
  const std::string h5 = path("in.h5");
  const std::string out = path("out.strata");
  const auto import = [&](const std::string& dataset) {
    return [&, dataset] { strata::io::import_hdf5(Hdf5Path{h5, dataset}, out); };
  };

  auto e = expect_error(import("/x"), ErrorCategory::io);
  EXPECT_EQ(e.context_value("file"), h5);
  EXPECT_EQ(e.context_value("dataset"), "/x");

  const auto numbers = values<double>(4);
  write_h5(h5, "/group/x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {4}, numbers.data());
  e = expect_error(import("/nope/x"), ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("file"), h5);
  EXPECT_EQ(e.context_value("dataset"), "/nope/x");
  EXPECT_EQ(e.context_value("missing"), "/nope");
  e = expect_error(import("/group/y"), ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("dataset"), "/group/y");
  e = expect_error(import("/group"), ErrorCategory::invalid_argument);
  EXPECT_NE(e.message().find("not a dataset"), std::string::npos) << e.what();
  e = expect_error(import("/group/x/deeper"), ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("not_a_group"), "/group/x");

  {  // Datasets of a fixed string, a variable string, a compound, an enum; a scalar; rank 9.
    hid_t f = H5Fopen(h5.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t two = 2;
    hid_t space = H5Screate_simple(1, &two, nullptr);
    hid_t fixed = H5Tcopy(H5T_C_S1);
    H5Tset_size(fixed, 8);
    H5Dclose(H5Dcreate2(f, "/fixed_string", fixed, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hid_t variable = H5Tcopy(H5T_C_S1);
    H5Tset_size(variable, H5T_VARIABLE);
    H5Dclose(H5Dcreate2(f, "/names", variable, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hid_t compound = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(compound, "x", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(compound, "n", 8, H5T_NATIVE_INT64);
    H5Dclose(H5Dcreate2(f, "/records", compound, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hid_t enumeration = H5Tenum_create(H5T_NATIVE_INT32);
    int zero = 0;
    H5Tenum_insert(enumeration, "off", &zero);
    H5Dclose(H5Dcreate2(f, "/state", enumeration, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hid_t scalar = H5Screate(H5S_SCALAR);
    H5Dclose(
        H5Dcreate2(f, "/scalar", H5T_IEEE_F64LE, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    const hsize_t nine[9] = {2, 1, 1, 1, 1, 1, 1, 1, 2};
    hid_t space9 = H5Screate_simple(9, nine, nullptr);
    H5Dclose(
        H5Dcreate2(f, "/rank9", H5T_IEEE_F64LE, space9, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    for (hid_t id : {fixed, variable, compound, enumeration}) H5Tclose(id);
    for (hid_t id : {space, scalar, space9}) H5Sclose(id);
    ASSERT_GE(H5Fclose(f), 0);
  }
  const std::pair<const char*, const char*> refused_types[] = {
      {"/fixed_string", "H5T_STRING (fixed, 8 bytes)"},
      {"/names", "H5T_STRING (variable length)"},
      {"/records", "H5T_COMPOUND (2 members, 16 bytes)"},
      {"/state", "H5T_ENUM of H5T_STD_I32LE"}};
  for (const auto& [dataset, type] : refused_types) {
    e = expect_error(import(dataset), ErrorCategory::invalid_argument);
    EXPECT_EQ(e.context_value("dataset"), dataset);
    EXPECT_EQ(e.context_value("type"), type);
    EXPECT_NE(std::string(e.what()).find(h5), std::string::npos) << e.what();
  }
  e = expect_error(import("/scalar"), ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("dataset"), "/scalar");
  e = expect_error(import("/rank9"), ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("rank"), "9");
  EXPECT_EQ(e.context_value("dataset"), "/rank9");

  std::ofstream(path("text.h5")) << "not hdf5 at all\n";
  e = expect_error(
      [&] {
        strata::io::import_hdf5(Hdf5Path{path("text.h5"), "/x"}, out);
      },
      ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("file"), path("text.h5"));
  EXPECT_FALSE(fs::exists(out));
}

// Proves direct reads return exactly the requested rows and blocks, a dataset opened alone is
// rank 0 of 1 whose partition is every row, and out-of-range blocks or wrong buffer sizes are
// refused before anything is read.
TEST_F(Hdf5Test, DirectReadsRowsBlocksAndPartition) {
  const auto data = values<float>(11 * 4);
  write_h5(path("in.h5"), "/f", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {11, 4}, data.data(), {3, 4}, 1);
  const auto ds = Hdf5Dataset::open(path("in.h5") + ":/f");
  EXPECT_EQ(ds.dtype(), DType::f32);
  EXPECT_EQ(ds.shape(), (Shape{11, 4}));
  EXPECT_EQ(ds.rows(), 11u);
  EXPECT_EQ(ds.row_bytes(), 16u);
  EXPECT_EQ(ds.storage().layout, "chunked");
  EXPECT_EQ(ds.storage().chunk, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(ds.storage().filters, (std::vector<std::string>{"deflate"}));
  EXPECT_FALSE(ds.collective());

  std::vector<float> rows(5 * 4);
  ds.read_rows(4, 5, std::as_writable_bytes(std::span(rows)));
  EXPECT_EQ(rows, values<float>(5 * 4, 4 * 4));

  // Rows 9..10, columns 1..2: elements 9*4+1, 9*4+2, 10*4+1, 10*4+2.
  std::vector<float> block(4);
  const std::uint64_t start[] = {9, 1};
  const std::uint64_t count[] = {2, 2};
  ds.read_block(start, count, std::as_writable_bytes(std::span(block)));
  EXPECT_EQ(block, (std::vector<float>{value_at<float>(37), value_at<float>(38),
                                       value_at<float>(41), value_at<float>(42)}));

  EXPECT_EQ(ds.rank(), 0);
  EXPECT_EQ(ds.size(), 1);
  std::vector<float> all(11 * 4);
  const auto mine = ds.read_partition(std::as_writable_bytes(std::span(all)));
  EXPECT_EQ(mine.first, 0u);
  EXPECT_EQ(mine.count, 11u);
  EXPECT_EQ(all, data);

  // Without MPI initialised a collective open is this process alone.
  const auto alone = Hdf5Dataset::open_collective(Hdf5Path::parse(path("in.h5") + ":/f"));
  EXPECT_FALSE(alone.collective());
  EXPECT_EQ(alone.size(), 1);

  auto e = expect_error([&] { ds.read_rows(10, 2, std::as_writable_bytes(std::span(rows))); },
                        ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("dimension"), "0");
  e = expect_error([&] { ds.read_rows(0, 2, std::as_writable_bytes(std::span(rows))); },
                   ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("expected_bytes"), "32");
  EXPECT_EQ(e.context_value("buffer_bytes"), "80");
}

// Proves an exported array is what h5dump prints (type, shape, every value), lies under the
// groups created on the way (h5ls -r), is chunked and gzip-compressed as asked (h5dump -p), and
// reads back identically through the HDF5 C API.
TEST_F(Hdf5Test, ExportArrayReadByH5dumpH5lsAndTheCApi) {
  const auto data = values<double>(3 * 4);
  const std::string h5 = path("out.h5");
  strata::io::export_array(h5, "/results/hist/x", DType::f64, {3, 4},
                           std::as_bytes(std::span(data)), {.gzip_level = 4, .chunk_rows = 2});
  const auto ids = values<std::int64_t>(5);
  strata::io::export_array(h5, "/results/ids", DType::i64, {5}, std::as_bytes(std::span(ids)));

  const std::string dump = run("h5dump -d /results/hist/x -y -w0 " + h5);
  EXPECT_NE(dump.find("DATATYPE  H5T_IEEE_F64LE"), std::string::npos) << dump;
  EXPECT_NE(dump.find("DATASPACE  SIMPLE { ( 3, 4 ) / ( 3, 4 ) }"), std::string::npos) << dump;
  EXPECT_EQ(h5dump_numbers(dump), data);

  const std::string properties = run("h5dump -p -H -d /results/hist/x " + h5);
  EXPECT_NE(properties.find("CHUNKED ( 2, 4 )"), std::string::npos) << properties;
  EXPECT_NE(properties.find("COMPRESSION DEFLATE { LEVEL 4 }"), std::string::npos) << properties;

  const std::string listing = run("h5ls -r " + h5);
  EXPECT_TRUE(std::regex_search(listing, std::regex(R"(/results\s+Group)"))) << listing;
  EXPECT_TRUE(std::regex_search(listing, std::regex(R"(/results/hist\s+Group)"))) << listing;
  EXPECT_TRUE(std::regex_search(listing, std::regex(R"(/results/hist/x\s+Dataset \{3, 4\})")))
      << listing;
  EXPECT_TRUE(std::regex_search(listing, std::regex(R"(/results/ids\s+Dataset \{5\})"))) << listing;

  const std::string id_dump = run("h5dump -d /results/ids -y -w0 " + h5);
  EXPECT_NE(id_dump.find("H5T_STD_I64LE"), std::string::npos) << id_dump;
  std::vector<std::string> expected_ids;
  for (auto v : ids) expected_ids.push_back(std::to_string(v));
  EXPECT_EQ(h5dump_integers(id_dump), expected_ids);

  EXPECT_EQ(read_h5<double>(h5, "/results/hist/x", H5T_NATIVE_DOUBLE, 12), data);
  EXPECT_EQ(read_h5<std::int64_t>(h5, "/results/ids", H5T_NATIVE_INT64, 5), ids);
}

// Proves each dtype exports as its standard little-endian HDF5 type with the same values (u64
// past 2^63 and negative i8 included, compared as h5dump's text), and a rank-0 shape as a scalar.
TEST_F(Hdf5Test, ExportsEveryDtypeAsItsStandardType) {
  const std::string h5 = path("types.h5");
  const auto check = [&]<class T>(T, DType dtype, const char* type_name) {
    SCOPED_TRACE(type_name);
    const auto data = values<T>(9);
    const std::string name = "/" + std::string(strata::to_string(dtype));
    strata::io::export_array(h5, name, dtype, {9}, std::as_bytes(std::span(data)));
    const std::string dump = run("h5dump -d " + name + " -y -w0 " + h5);
    EXPECT_NE(dump.find(std::string("DATATYPE  ") + type_name), std::string::npos) << dump;
    if constexpr (std::is_floating_point_v<T>) {
      EXPECT_EQ(h5dump_numbers(dump), std::vector<double>(data.begin(), data.end()));
    } else {
      std::vector<std::string> expected;
      for (T v : data) expected.push_back(std::to_string(static_cast<std::int64_t>(v)));
      if constexpr (std::is_same_v<T, std::uint64_t>) {
        expected.clear();
        for (T v : data) expected.push_back(std::to_string(v));
      }
      EXPECT_EQ(h5dump_integers(dump), expected);
    }
  };
  check(float{}, DType::f32, "H5T_IEEE_F32LE");
  check(double{}, DType::f64, "H5T_IEEE_F64LE");
  check(std::int8_t{}, DType::i8, "H5T_STD_I8LE");
  check(std::int16_t{}, DType::i16, "H5T_STD_I16LE");
  check(std::int32_t{}, DType::i32, "H5T_STD_I32LE");
  check(std::int64_t{}, DType::i64, "H5T_STD_I64LE");
  check(std::uint8_t{}, DType::u8, "H5T_STD_U8LE");
  check(std::uint16_t{}, DType::u16, "H5T_STD_U16LE");
  check(std::uint32_t{}, DType::u32, "H5T_STD_U32LE");
  check(std::uint64_t{}, DType::u64, "H5T_STD_U64LE");

  const double answer = 42.5;
  strata::io::export_array(h5, "/answer", DType::f64, Shape{},
                           std::as_bytes(std::span(&answer, 1)));
  const std::string dump = run("h5dump -d /answer " + h5);
  EXPECT_NE(dump.find("DATASPACE  SCALAR"), std::string::npos) << dump;
  EXPECT_NE(dump.find("42.5"), std::string::npos) << dump;
}

// Proves export refuses to replace an existing dataset, a size that does not match the shape, a
// gzip level outside 0..9, malformed paths and a path through a dataset, and leaves the existing
// data untouched.
TEST_F(Hdf5Test, ExportArrayRefusesBadRequests) {
  const std::string h5 = path("out.h5");
  const auto data = values<std::int32_t>(6);
  const auto bytes = std::as_bytes(std::span(data));
  strata::io::export_array(h5, "/a", DType::i32, {6}, bytes);
  auto e = expect_error([&] { strata::io::export_array(h5, "/a", DType::i32, {6}, bytes); },
                        ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("dataset"), "/a");
  EXPECT_EQ(e.context_value("file"), h5);
  e = expect_error([&] { strata::io::export_array(h5, "/b", DType::i32, {7}, bytes); },
                   ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("expected_bytes"), "28");
  expect_error(
      [&] { strata::io::export_array(h5, "/b", DType::i32, {6}, bytes, {.gzip_level = 10}); },
      ErrorCategory::invalid_argument);
  for (const char* bad : {"b", "/", "/b/", "/b//c"}) {
    e = expect_error([&] { strata::io::export_array(h5, bad, DType::i32, {6}, bytes); },
                     ErrorCategory::invalid_argument);
    EXPECT_EQ(e.context_value("dataset"), bad);
  }
  e = expect_error([&] { strata::io::export_array(h5, "/a/b", DType::i32, {6}, bytes); },
                   ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("not_a_group"), "/a");
  std::ofstream(path("text.h5")) << "text";
  expect_error([&] { strata::io::export_array(path("text.h5"), "/a", DType::i32, {6}, bytes); },
               ErrorCategory::invalid_argument);
  expect_error(
      [&] { strata::io::export_array(path("no/such/dir/x.h5"), "/a", DType::i32, {6}, bytes); },
      ErrorCategory::io);
  EXPECT_EQ(read_h5<std::int32_t>(h5, "/a", H5T_NATIVE_INT32, 6), data);
}

// Proves a whole `.strata` file exports every array under its name with its values, its
// metadata as root attributes (UTF-8 text as strings h5dump prints; a non-UTF-8 value as a u8
// sequence holding the same bytes), refuses to overwrite unless asked, and re-imports unchanged.
TEST_F(Hdf5Test, ExportStrataFileWithMetadataAsAttributes) {
  const auto pos = values<double>(1000 * 3);
  const auto ids = values<std::uint32_t>(7);
  const std::string binary("\xff\x00\x01", 3);
  {
    strata::io::StrataWriter w(
        path("in.strata"), {{"pos", DType::f64, {1000, 3}, 4096}, {"ids", DType::u32, {7}, 4096}},
        {{"generator", "test"}, {"unit", "µm"}, {"blob", binary}});
    w.append(0, std::as_bytes(std::span(pos)));
    w.append(1, std::as_bytes(std::span(ids)));
    w.finish();
  }
  const std::string h5 = path("out.h5");
  strata::io::export_strata(path("in.strata"), h5, {.gzip_level = 1, .slab_bytes = 8192});

  const std::string listing = run("h5ls -r " + h5);
  EXPECT_TRUE(std::regex_search(listing, std::regex(R"(/pos\s+Dataset \{1000, 3\})"))) << listing;
  EXPECT_TRUE(std::regex_search(listing, std::regex(R"(/ids\s+Dataset \{7\})"))) << listing;
  EXPECT_EQ(h5dump_numbers(run("h5dump -d /pos -y -w0 " + h5)), pos);
  EXPECT_EQ(read_h5<std::uint32_t>(h5, "/ids", H5T_NATIVE_UINT32, 7), ids);

  const std::string attribute = run("h5dump -a /generator " + h5);
  EXPECT_NE(attribute.find("CSET H5T_CSET_UTF8"), std::string::npos) << attribute;
  EXPECT_NE(attribute.find("\"test\""), std::string::npos) << attribute;
  {  // h5dump escapes non-ASCII bytes, so the UTF-8 text is compared through the C API.
    hid_t f = H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "unit", H5P_DEFAULT);
    ASSERT_GE(a, 0);
    hid_t type = H5Aget_type(a);
    EXPECT_EQ(H5Tget_cset(type), H5T_CSET_UTF8);
    char* text = nullptr;
    ASSERT_GE(H5Aread(a, type, &text), 0);
    EXPECT_STREQ(text, "µm");
    H5free_memory(text);
    H5Tclose(type);
    H5Aclose(a);
    H5Fclose(f);
  }
  {  // The non-text value: a variable-length sequence of u8 with the original bytes.
    hid_t f = H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "blob", H5P_DEFAULT);
    ASSERT_GE(a, 0);
    hid_t type = H5Tvlen_create(H5T_NATIVE_UINT8);
    hvl_t value{};
    ASSERT_GE(H5Aread(a, type, &value), 0);
    EXPECT_EQ(std::string(static_cast<const char*>(value.p), value.len), binary);
    hid_t space = H5Screate(H5S_SCALAR);
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, &value);
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(a);
    H5Fclose(f);
  }

  auto e = expect_error([&] { strata::io::export_strata(path("in.strata"), h5); },
                        ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("file"), h5);
  strata::io::export_strata(path("in.strata"), h5, {.overwrite = true});
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos)
        << "temporary file left behind: " << entry.path();
  }

  strata::io::import_hdf5(Hdf5Path{h5, "/pos"}, path("back.strata"));
  EXPECT_EQ(strata_values<double>(path("back.strata"), "pos"), pos);
}

// Builds `h5`:/d, 6 doubles whose raw bytes live in `raw` (external storage, H5Pset_external).
void write_external_dataset(const std::string& h5, const std::string& raw) {
  hid_t f = H5Fcreate(h5.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t six = 6;
  hid_t space = H5Screate_simple(1, &six, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  ASSERT_GE(H5Pset_external(dcpl, raw.c_str(), 0, 6 * sizeof(double)), 0);
  hid_t d = H5Dcreate2(f, "/d", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  ASSERT_GE(H5Fclose(f), 0);
}

// Builds `h5`:/v, a virtual dataset of 4 doubles mapped whole from `source_file`:`source`.
void write_virtual_dataset(const std::string& h5, const std::string& source_file,
                           const std::string& source) {
  hsize_t four = 4;
  hid_t space = H5Screate_simple(1, &four, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  ASSERT_GE(H5Pset_virtual(dcpl, space, source_file.c_str(), source.c_str(), space), 0);
  hid_t f = fs::exists(h5) ? H5Fopen(h5.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                           : H5Fcreate(h5.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t d = H5Dcreate2(f, "/v", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  ASSERT_GE(H5Fclose(f), 0);
}

// Proves a dataset whose bytes live in another file (external storage) is refused with an error
// naming the HDF5 file, the dataset and the external file, and nothing is written; with
// allow_external it imports the external bytes and records the external file in the provenance.
// Would fail if import read files the user never named without being asked.
TEST_F(Hdf5Test, ExternalStorageIsRefusedUnlessAllowedAndThenRecorded) {
  const auto secret = values<double>(6);
  {
    std::ofstream raw(path("secret.bin"), std::ios::binary);
    raw.write(reinterpret_cast<const char*>(secret.data()), 6 * sizeof(double));
  }
  const std::string h5 = path("evil.h5");
  write_external_dataset(h5, path("secret.bin"));
  const std::string out = path("out.strata");

  auto e = expect_error(
      [&] {
        strata::io::import_hdf5(Hdf5Path{h5, "/d"}, out);
      },
      ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("file"), h5);
  EXPECT_EQ(e.context_value("dataset"), "/d");
  EXPECT_EQ(e.context_value("external_files"), path("secret.bin"));
  EXPECT_NE(e.message().find("external"), std::string::npos) << e.what();
  EXPECT_FALSE(fs::exists(out));
  e = expect_error(
      [&] {
        (void)Hdf5Dataset::open(Hdf5Path{h5, "/d"});
      },
      ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("external_files"), path("secret.bin"));

  strata::io::import_hdf5(Hdf5Path{h5, "/d"}, out, {.allow_external = true});
  EXPECT_EQ(strata_values<double>(out, "d"), secret);
  const auto f = strata::io::StrataFile::open(out);
  EXPECT_EQ(metadata_value(f.metadata(), "source.external_files"), path("secret.bin"));
  EXPECT_EQ(metadata_value(f.metadata(), "source.file"), h5);
}

// Proves a virtual dataset mapping another file is refused unless allowed (then recorded like
// external storage), one whose source file or source dataset is missing is refused even when
// allowed (HDF5 would hand out fill values), and one mapping its own file opens as usual.
TEST_F(Hdf5Test, VirtualDatasetsNeedTheirSourcesAndPermissionForOtherFiles) {
  const auto data = values<double>(4);
  write_h5(path("src.h5"), "/s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {4}, data.data());
  write_virtual_dataset(path("vds.h5"), path("src.h5"), "/s");
  auto e = expect_error(
      [&] {
        (void)Hdf5Dataset::open(Hdf5Path{path("vds.h5"), "/v"});
      },
      ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("external_files"), path("src.h5"));
  strata::io::import_hdf5(Hdf5Path{path("vds.h5"), "/v"}, path("v.strata"),
                          {.allow_external = true});
  EXPECT_EQ(strata_values<double>(path("v.strata"), "v"), data);
  EXPECT_EQ(metadata_value(strata::io::StrataFile::open(path("v.strata")).metadata(),
                           "source.external_files"),
            path("src.h5"));

  write_virtual_dataset(path("gone.h5"), path("missing.h5"), "/s");
  e = expect_error(
      [&] {
        strata::io::import_hdf5(Hdf5Path{path("gone.h5"), "/v"}, path("g.strata"),
                                {.allow_external = true});
      },
      ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("file"), path("gone.h5"));
  EXPECT_EQ(e.context_value("source"), path("missing.h5") + ":/s");
  EXPECT_FALSE(fs::exists(path("g.strata")));
  write_virtual_dataset(path("nods.h5"), path("src.h5"), "/nothing");
  e = expect_error(
      [&] {
        (void)Hdf5Dataset::open(Hdf5Path{path("nods.h5"), "/v"}, {.allow_external = true});
      },
      ErrorCategory::invalid_argument);
  EXPECT_EQ(e.context_value("source"), path("src.h5") + ":/nothing");

  write_h5(path("self.h5"), "/s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {4}, data.data());
  write_virtual_dataset(path("self.h5"), ".", "/s");
  const auto self = Hdf5Dataset::open(Hdf5Path{path("self.h5"), "/v"});
  EXPECT_EQ(self.storage().layout, "virtual");
  EXPECT_TRUE(self.storage().external_files.empty());
  std::vector<double> read(4);
  self.read_rows(0, 4, std::as_writable_bytes(std::span(read)));
  EXPECT_EQ(read, data);
}

// Proves reading rows into a new buffer refuses, before allocating, a request larger than the
// memory available, stating both sizes: a 10^12-element dataset never written (so the file is
// small) gave std::bad_alloc. Would fail if the buffer were allocated first.
TEST_F(Hdf5Test, ReadingMoreRowsThanMemoryHoldsIsRefusedWithTheSizes) {
  strata::test::write_unwritten_hdf5(path("huge.h5"), "/huge", 1000000000000ull);
  const auto huge = Hdf5Dataset::open(Hdf5Path{path("huge.h5"), "/huge"});
  auto e = expect_error([&] { (void)huge.read_rows(0, huge.rows()); }, ErrorCategory::resource);
  EXPECT_EQ(e.context_value("bytes_needed"), "8000000000000");
  EXPECT_FALSE(e.context_value("bytes_available").empty());
  EXPECT_EQ(e.context_value("dataset"), "/huge");
  EXPECT_EQ(huge.read_rows(5, 3), std::vector<std::byte>(24, std::byte{0}));  // fill value
}

}  // namespace
