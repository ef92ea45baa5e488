// Vectorised float math for the CPU kernels (AVX2 + FMA when compiled for it, scalar otherwise).
// exp: Cephes-style range reduction + degree-6 polynomial, ~1-2 ulp, exact 0 below -87.3, +inf
// above 88.7, NaN propagates. tanh: odd polynomial for |x| < 0.625, 1 - 2/(exp(2|x|)+1) beyond.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define WAN22_CPU_AVX2 1
#endif

namespace wan22::cpu::vm {

// ---------- scalar versions (same algorithms; used for loop tails and non-AVX2 builds) ----------
inline float exp_s(float x) { return std::exp(x); }
inline float tanh_s(float x) { return std::tanh(x); }
inline float sigmoid_s(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float silu_s(float x) { return x / (1.0f + std::exp(-x)); }
inline float gelu_tanh_s(float x) {
  constexpr float kBeta = 0.7978845608028654f, kKappa = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kBeta * (x + kKappa * x * x * x)));
}

#ifdef WAN22_CPU_AVX2
constexpr int kWidth = 8;

inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.72283935546875f);
  const __m256 lo = _mm256_set1_ps(-87.3365447505531f);
  const __m256 too_small = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  const __m256 too_big = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  const __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  // n = round(x / ln2); r = x - n ln2 (ln2 split in two for precision)
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // scale by 2^n; n in [-126, 127] here, so split to keep the exponent field valid
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), too_small);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), too_big);
  return _mm256_blendv_ps(y, x, is_nan);
}

inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  // small |x|: x + x^3 P(x^2)
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  // large |x|: 1 - 2 / (exp(2|x|) + 1), with the sign restored
  const __m256 e = exp8(_mm256_add_ps(ax, ax));
  const __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                                   _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
  const __m256 big_signed = _mm256_or_ps(big, sign);
  const __m256 use_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
  __m256 y = _mm256_blendv_ps(big_signed, small, use_small);
  const __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  return _mm256_blendv_ps(y, x, is_nan);
}

inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}
inline __m256 silu8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}
inline __m256 gelu_tanh8(__m256 x) {
  const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  const __m256 inner = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                                     _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
  const __m256 half_x = _mm256_mul_ps(_mm256_set1_ps(0.5f), x);
  return _mm256_fmadd_ps(half_x, tanh8(inner), half_x);
}
#endif

// max over n floats (n >= 1 not required: returns `init` for n == 0). NaN-unaware (max_ps).
inline float max_n(const float* x, int64_t n, float init) {
  int64_t i = 0;
  float m = init;
#ifdef WAN22_CPU_AVX2
  if (n >= kWidth) {
    __m256 vmax = _mm256_set1_ps(init);
    for (; i + kWidth <= n; i += kWidth) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    alignas(32) float t[kWidth];
    _mm256_store_ps(t, vmax);
    for (float v : t) m = v > m ? v : m;
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// x[i] = exp(x[i] - ref) in place; returns the sum of the results.
inline float exp_sub_sum(float* x, int64_t n, float ref) {
  int64_t i = 0;
  float sum = 0.f;
#ifdef WAN22_CPU_AVX2
  const __m256 vr = _mm256_set1_ps(ref);
  __m256 vs = _mm256_setzero_ps();
  for (; i + kWidth <= n; i += kWidth) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vr));
    _mm256_storeu_ps(x + i, e);
    vs = _mm256_add_ps(vs, e);
  }
  alignas(32) float t[kWidth];
  _mm256_store_ps(t, vs);
  for (float v : t) sum += v;
#endif
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - ref);
    sum += x[i];
  }
  return sum;
}

// Sum and sum of squares of n floats, accumulated in double.
inline void sums_d(const float* x, int64_t n, double* s1, double* s2) {
  int64_t i = 0;
  double a = 0.0, q = 0.0;
#ifdef WAN22_CPU_AVX2
  __m256d va0 = _mm256_setzero_pd(), va1 = _mm256_setzero_pd();
  __m256d vq0 = _mm256_setzero_pd(), vq1 = _mm256_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    va0 = _mm256_add_pd(va0, lo);
    va1 = _mm256_add_pd(va1, hi);
    vq0 = _mm256_fmadd_pd(lo, lo, vq0);
    vq1 = _mm256_fmadd_pd(hi, hi, vq1);
  }
  alignas(32) double t[4], u[4];
  _mm256_store_pd(t, _mm256_add_pd(va0, va1));
  _mm256_store_pd(u, _mm256_add_pd(vq0, vq1));
  a = (t[0] + t[1]) + (t[2] + t[3]);
  q = (u[0] + u[1]) + (u[2] + u[3]);
#endif
  for (; i < n; ++i) {
    const double v = x[i];
    a += v;
    q += v * v;
  }
  *s1 = a;
  *s2 = q;
}

// Sum of (x[i] - mean)^2 in double.
inline double centered_sumsq_d(const float* x, int64_t n, double mean) {
  int64_t i = 0;
  double q = 0.0;
#ifdef WAN22_CPU_AVX2
  const __m256d vm = _mm256_set1_pd(mean);
  __m256d q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vm);
    const __m256d hi = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vm);
    q0 = _mm256_fmadd_pd(lo, lo, q0);
    q1 = _mm256_fmadd_pd(hi, hi, q1);
  }
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(q0, q1));
  q = (t[0] + t[1]) + (t[2] + t[3]);
#endif
  for (; i < n; ++i) {
    const double d = x[i] - mean;
    q += d * d;
  }
  return q;
}

// y[i] = f(x[i]) with an 8-wide vector functor vf and scalar functor sf for the tail.
template <class VF, class SF>
inline void map(const float* x, float* y, int64_t n, VF vf, SF sf) {
  int64_t i = 0;
#ifdef WAN22_CPU_AVX2
  for (; i + kWidth <= n; i += kWidth) _mm256_storeu_ps(y + i, vf(_mm256_loadu_ps(x + i)));
#else
  (void)vf;
#endif
  for (; i < n; ++i) y[i] = sf(x[i]);
}

}  // namespace wan22::cpu::vm
