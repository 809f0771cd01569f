// SPDX-License-Identifier: Apache-2.0
// DType <-> HDF5 datatype mapping and h5dump-style type names (see hdf5_types.hpp).
#include "hdf5/hdf5_types.hpp"

#include <cstddef>

#include "hdf5/hdf5_handle.hpp"

namespace strata::io::detail {

std::optional<DType> dtype_from_hdf5(hid_t type) {
  const std::size_t bytes = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      if (bytes == 4) return DType::f32;
      if (bytes == 8) return DType::f64;
      return std::nullopt;
    case H5T_INTEGER: {
      const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
      switch (bytes) {
        case 1:
          return is_signed ? DType::i8 : DType::u8;
        case 2:
          return is_signed ? DType::i16 : DType::u16;
        case 4:
          return is_signed ? DType::i32 : DType::u32;
        case 8:
          return is_signed ? DType::i64 : DType::u64;
        default:
          return std::nullopt;
      }
    }
    default:
      return std::nullopt;
  }
}

hid_t native_hdf5_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return H5T_NATIVE_FLOAT;
    case DType::f64:
      return H5T_NATIVE_DOUBLE;
    case DType::i8:
      return H5T_NATIVE_INT8;
    case DType::i16:
      return H5T_NATIVE_INT16;
    case DType::i32:
      return H5T_NATIVE_INT32;
    case DType::i64:
      return H5T_NATIVE_INT64;
    case DType::u8:
      return H5T_NATIVE_UINT8;
    case DType::u16:
      return H5T_NATIVE_UINT16;
    case DType::u32:
      return H5T_NATIVE_UINT32;
    case DType::u64:
      return H5T_NATIVE_UINT64;
  }
  return H5I_INVALID_HID;
}

hid_t file_hdf5_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return H5T_IEEE_F32LE;
    case DType::f64:
      return H5T_IEEE_F64LE;
    case DType::i8:
      return H5T_STD_I8LE;
    case DType::i16:
      return H5T_STD_I16LE;
    case DType::i32:
      return H5T_STD_I32LE;
    case DType::i64:
      return H5T_STD_I64LE;
    case DType::u8:
      return H5T_STD_U8LE;
    case DType::u16:
      return H5T_STD_U16LE;
    case DType::u32:
      return H5T_STD_U32LE;
    case DType::u64:
      return H5T_STD_U64LE;
  }
  return H5I_INVALID_HID;
}

std::string describe_hdf5_type(hid_t type) {
  const std::size_t bytes = H5Tget_size(type);
  const std::string order = H5Tget_order(type) == H5T_ORDER_BE ? "BE" : "LE";
  const std::string bits = std::to_string(bytes * 8);
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      return "H5T_IEEE_F" + bits + order;
    case H5T_INTEGER:
      return std::string("H5T_STD_") + (H5Tget_sign(type) == H5T_SGN_2 ? "I" : "U") + bits + order;
    case H5T_STRING:
      if (H5Tis_variable_str(type) > 0) return "H5T_STRING (variable length)";
      return "H5T_STRING (fixed, " + std::to_string(bytes) + " bytes)";
    case H5T_COMPOUND:
      return "H5T_COMPOUND (" + std::to_string(H5Tget_nmembers(type)) + " members, " +
             std::to_string(bytes) + " bytes)";
    case H5T_ENUM: {
      Hdf5Handle base(H5Tget_super(type), H5Tclose);
      return "H5T_ENUM of " + (base ? describe_hdf5_type(base.get()) : std::string("?"));
    }
    case H5T_ARRAY:
      return "H5T_ARRAY";
    case H5T_VLEN:
      return "H5T_VLEN";
    case H5T_BITFIELD:
      return "H5T_BITFIELD (" + bits + " bits)";
    case H5T_OPAQUE:
      return "H5T_OPAQUE (" + std::to_string(bytes) + " bytes)";
    case H5T_REFERENCE:
      return "H5T_REFERENCE";
    case H5T_TIME:
      return "H5T_TIME";
    default:
      return "unknown HDF5 type class";
  }
}

}  // namespace strata::io::detail
