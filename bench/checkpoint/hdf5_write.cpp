// SPDX-License-Identifier: Apache-2.0
// Parallel HDF5 writing the same array with the same durability, against strata's full saves:
// the baseline creates an HDF5 file through the MPI-IO driver (H5Pset_fapl_mpio on
// MPI_COMM_WORLD, one rank here) with one contiguous 2-D f64 dataset, writes the whole field in
// one collective H5Dwrite, H5Fflush + H5Fclose, then fdatasync()s the file and fsync()s its
// folder. save_none_h5 and save_zstd1_h5 are the very saves of full_save.cpp, measured again so
// that the report sets them against this baseline (a case names one baseline).
#include <benchmark/benchmark.h>
#include <hdf5.h>
#include <mpi.h>

#include <stdexcept>
#include <string>

#include "checkpoint_settings.hpp"
#include "durable_file.hpp"
#include "suite_state.hpp"
#include "timed_save.hpp"

namespace strata::bench::checkpoint {
namespace {

// An HDF5 identifier closed by its own close function at the end of the scope.
class hdf5_id {
 public:
  hdf5_id(hid_t id, herr_t (*close)(hid_t), const char* what) : id_(id), close_(close) {
    if (id_ < 0) throw std::runtime_error(std::string("HDF5: ") + what + " failed");
  }
  ~hdf5_id() { close_(id_); }
  hdf5_id(const hdf5_id&) = delete;
  hdf5_id& operator=(const hdf5_id&) = delete;
  hid_t get() const noexcept { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void check(herr_t status, const char* what) {
  if (status < 0) throw std::runtime_error(std::string("HDF5: ") + what + " failed");
}

void write_hdf5(const std::string& path) {
  const hdf5_id access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate(file access)");
  check(H5Pset_fapl_mpio(access.get(), MPI_COMM_WORLD, MPI_INFO_NULL), "H5Pset_fapl_mpio");
  const hdf5_id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose,
                     "H5Fcreate");
  const hsize_t dims[2] = {suite().rows(), suite().cols()};
  const hdf5_id space(H5Screate_simple(2, dims, nullptr), H5Sclose, "H5Screate_simple");
  {
    const hdf5_id dataset(H5Dcreate2(file.get(), "/u", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                                     H5P_DEFAULT, H5P_DEFAULT),
                          H5Dclose, "H5Dcreate2");
    const hdf5_id transfer(H5Pcreate(H5P_DATASET_XFER), H5Pclose, "H5Pcreate(transfer)");
    check(H5Pset_dxpl_mpio(transfer.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
    check(H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, transfer.get(),
                   suite().field().data()),
          "H5Dwrite");
  }
  check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
}  // H5Fclose here

void hdf5_write_fsync(benchmark::State& state) {
  label_ratio(state, hdf5_baseline.c_str(), true);
  time_durable_writes(state, "hdf5", ".h5", [](const std::string& path) {
    write_hdf5(path);
    fdatasync_file(path);
  });
}

void save_none_h5(benchmark::State& state) {
  label_ratio(state, hdf5_baseline.c_str(), false);
  time_committed_saves(state, saver::full_none);
}

void save_zstd1_h5(benchmark::State& state) {
  label_ratio(state, hdf5_baseline.c_str(), false);
  time_committed_saves(state, saver::full_zstd1);
}

BENCHMARK(hdf5_write_fsync)->Apply(apply_run_settings);
BENCHMARK(save_none_h5)->Apply(apply_run_settings);
BENCHMARK(save_zstd1_h5)->Apply(apply_run_settings);

}  // namespace
}  // namespace strata::bench::checkpoint
