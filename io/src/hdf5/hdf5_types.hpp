// SPDX-License-Identifier: Apache-2.0
// The mapping between strata's DType and HDF5 datatypes: which HDF5 file types import as which
// dtype (by class, size and sign, any byte order), the native memory type HDF5 converts into,
// the standard little-endian type exports write, and h5dump-style names for messages.
#pragma once

#include <hdf5.h>

#include <optional>
#include <string>

#include "strata/runtime/base/dtype.hpp"

namespace strata::io::detail {

// The dtype an HDF5 file type imports as: integers of 1, 2, 4 or 8 bytes (signed or not) and
// floats of 4 or 8 bytes, in either byte order. nullopt for anything else (string, compound,
// enum, array, bitfield, opaque, reference, a 2- or 16-byte float).
std::optional<DType> dtype_from_hdf5(hid_t type);

// H5T_NATIVE_FLOAT, H5T_NATIVE_INT32, ...: the in-memory type for reads and writes. Not to be
// closed.
hid_t native_hdf5_type(DType dtype);

// H5T_IEEE_F64LE, H5T_STD_I32LE, ...: what exports store, fixed little-endian so a file means the
// same on every machine. Not to be closed.
hid_t file_hdf5_type(DType dtype);

// h5dump's name for a numeric type ("H5T_IEEE_F32BE", "H5T_STD_U16LE"), or a short description
// of any other ("H5T_STRING (variable length)", "H5T_COMPOUND (3 members, 24 bytes)").
std::string describe_hdf5_type(hid_t type);

}  // namespace strata::io::detail
