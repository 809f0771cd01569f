// SPDX-License-Identifier: Apache-2.0
// Per-target loads of f32, f64, i32 and i64 values as f64 lanes, shared by the kernels that
// evaluate in double whatever the input type (stats, histogram). Highway's per-target include
// guard: this file is re-included once per target by the sources that use it.
#if defined(STRATA_KERNELS_WIDEN_TO_F64_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef STRATA_KERNELS_WIDEN_TO_F64_INL_H_
#undef STRATA_KERNELS_WIDEN_TO_F64_INL_H_
#else
#define STRATA_KERNELS_WIDEN_TO_F64_INL_H_
#endif

#include <cstdint>

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace strata::kernels {
namespace HWY_NAMESPACE {

// Lanes(d) values from p as doubles: exact for f32 and i32; i64 rounds beyond 2^53, as any
// conversion to double does.
template <class D>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<D> load_f64(D d, const double* HWY_RESTRICT p) {
  return hwy::HWY_NAMESPACE::LoadU(d, p);
}
template <class D>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<D> load_f64(D d, const float* HWY_RESTRICT p) {
  namespace hn = hwy::HWY_NAMESPACE;
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<float, D>(), p));
}
template <class D>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<D> load_f64(D d, const std::int32_t* HWY_RESTRICT p) {
  namespace hn = hwy::HWY_NAMESPACE;
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<std::int32_t, D>(), p));
}
template <class D>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<D> load_f64(D d, const std::int64_t* HWY_RESTRICT p) {
  namespace hn = hwy::HWY_NAMESPACE;
  return hn::ConvertTo(d, hn::LoadU(hn::Rebind<std::int64_t, D>(), p));
}

}  // namespace HWY_NAMESPACE
}  // namespace strata::kernels
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
