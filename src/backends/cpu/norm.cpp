// Normalisation kernels: LayerNorm, RMSNorm, Wan VAE's channel RMS_norm, GroupNorm.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/vec_math.h"
#include "core/thread_pool.h"

namespace wan22::cpu {

namespace {
inline void sums(const float* x, int64_t n, double* s1, double* s2) { vm::sums_d(x, n, s1, s2); }
inline double centered_sq(const float* x, int64_t n, double mean) { return vm::centered_sumsq_d(x, n, mean); }

// Mean and 1/sqrt(var + eps) of n values (two passes in double, as both norms need).
inline void mean_rstd(const float* x, int64_t n, float eps, float* mean, float* rstd) {
  double s1, s2;
  sums(x, n, &s1, &s2);
  const double m = s1 / static_cast<double>(n);
  const double var = centered_sq(x, n, m) / static_cast<double>(n);
  *rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
  *mean = static_cast<float>(m);
}

int64_t row_grain(int64_t D) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(D, 1)); }
}  // namespace

void layer_norm(const float* x, float* y, int64_t rows, int64_t D, const float* w, const float* b,
                float eps) {
  parallel_for(0, rows, row_grain(D), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const float* px = x + r * D;
      float* py = y + r * D;
      float m, rstd;
      mean_rstd(px, D, eps, &m, &rstd);
      if (w && b) {
        for (int64_t i = 0; i < D; ++i) py[i] = (px[i] - m) * rstd * w[i] + b[i];
      } else if (w) {
        for (int64_t i = 0; i < D; ++i) py[i] = (px[i] - m) * rstd * w[i];
      } else if (b) {
        for (int64_t i = 0; i < D; ++i) py[i] = (px[i] - m) * rstd + b[i];
      } else {
        for (int64_t i = 0; i < D; ++i) py[i] = (px[i] - m) * rstd;
      }
    }
  });
}

void rms_norm(const float* x, float* y, int64_t rows, int64_t D, const float* w, float eps) {
  parallel_for(0, rows, row_grain(D), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const float* px = x + r * D;
      float* py = y + r * D;
      double s1, s2;
      sums(px, D, &s1, &s2);
      const float scale =
          static_cast<float>(1.0 / std::sqrt(s2 / static_cast<double>(D) + static_cast<double>(eps)));
      if (w) {
        for (int64_t i = 0; i < D; ++i) py[i] = (px[i] * scale) * w[i];
      } else {
        for (int64_t i = 0; i < D; ++i) py[i] = px[i] * scale;
      }
    }
  });
}

void rms_norm_dim(const float* x, float* y, int64_t outer, int64_t C, int64_t inner, const float* w,
                  const float* b, float eps) {
  const float sqrt_c = static_cast<float>(std::sqrt(static_cast<double>(C)));
  if (inner == 1) {
    parallel_for(0, outer, row_grain(C), [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const float* px = x + r * C;
        float* py = y + r * C;
        double s1, s2;
        sums(px, C, &s1, &s2);
        const float inv = static_cast<float>(1.0 / std::max(std::sqrt(s2), static_cast<double>(eps)));
        for (int64_t c = 0; c < C; ++c) {
          float v = px[c] * inv * sqrt_c;
          if (w) v *= w[c];
          if (b) v += b[c];
          py[c] = v;
        }
      }
    });
    return;
  }
  // Channel-first: per outer item, accumulate squares over C for a block of inner positions.
  constexpr int64_t kBlock = 1024;
  const int64_t blocks_per_outer = (inner + kBlock - 1) / kBlock;
  parallel_for(0, outer * blocks_per_outer, 1, [&](int64_t tb, int64_t te) {
    std::vector<double> acc(kBlock);
    std::vector<float> inv(kBlock);
    for (int64_t t = tb; t < te; ++t) {
      const int64_t o = t / blocks_per_outer;
      const int64_t i0 = (t % blocks_per_outer) * kBlock, i1 = std::min(inner, i0 + kBlock);
      const int64_t n = i1 - i0;
      std::fill(acc.begin(), acc.begin() + n, 0.0);
      const float* base = x + o * C * inner + i0;
      for (int64_t c = 0; c < C; ++c) {
        const float* px = base + c * inner;
        for (int64_t i = 0; i < n; ++i) acc[i] += static_cast<double>(px[i]) * px[i];
      }
      for (int64_t i = 0; i < n; ++i)
        inv[i] = static_cast<float>(1.0 / std::max(std::sqrt(acc[i]), static_cast<double>(eps)));
      float* ybase = y + o * C * inner + i0;
      for (int64_t c = 0; c < C; ++c) {
        const float* px = base + c * inner;
        float* py = ybase + c * inner;
        const float g = w ? w[c] : 1.f;
        const float bb = b ? b[c] : 0.f;
        for (int64_t i = 0; i < n; ++i) py[i] = px[i] * inv[i] * sqrt_c * g + bb;
      }
    }
  });
}

void group_norm(const float* x, float* y, int64_t N, int64_t C, int64_t S, int64_t G, const float* w,
                const float* b, float eps) {
  const int64_t cpg = C / G;
  const int64_t group_elems = cpg * S;
  parallel_for(0, N * G, 1, [&](int64_t gb, int64_t ge) {
    for (int64_t g = gb; g < ge; ++g) {
      const float* px = x + g * group_elems;
      float* py = y + g * group_elems;
      float m, rstd;
      mean_rstd(px, group_elems, eps, &m, &rstd);
      const int64_t c0 = (g % G) * cpg;
      for (int64_t c = 0; c < cpg; ++c) {
        const float sc = rstd * (w ? w[c0 + c] : 1.f);
        const float sh = b ? b[c0 + c] : 0.f;
        const float* pxc = px + c * S;
        float* pyc = py + c * S;
        for (int64_t i = 0; i < S; ++i) pyc[i] = (pxc[i] - m) * sc + sh;
      }
    }
  });
}

}  // namespace wan22::cpu
