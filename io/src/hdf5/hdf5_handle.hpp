// SPDX-License-Identifier: Apache-2.0
// Hdf5Handle: owns one HDF5 identifier (file, dataset, dataspace, type, property list, attribute)
// and closes it with the matching H5?close, so an exception thrown between opening and closing
// never leaks an identifier (a leaked file identifier keeps the file open and locked).
#pragma once

#include <hdf5.h>

#include <utility>

namespace strata::io::detail {

class Hdf5Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Hdf5Handle() = default;
  // Takes ownership of `id` when it is valid (>= 0); a negative id makes an empty handle, so the
  // caller can test the result of the H5?open call through the handle.
  Hdf5Handle(hid_t id, Closer closer) noexcept : id_(id), closer_(closer) {}
  Hdf5Handle(Hdf5Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  Hdf5Handle& operator=(Hdf5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;
  // A failed close cannot be reported from a destructor; writers that must know whether their
  // data reached the file call reset() themselves and check what it returns.
  ~Hdf5Handle() { reset(); }

  hid_t get() const noexcept { return id_; }
  explicit operator bool() const noexcept { return id_ >= 0; }
  // Closes now and returns what the close returned (0 for an empty handle).
  herr_t reset() noexcept {
    herr_t status = 0;
    if (id_ >= 0 && closer_ != nullptr) status = closer_(id_);
    id_ = H5I_INVALID_HID;
    return status;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

}  // namespace strata::io::detail
