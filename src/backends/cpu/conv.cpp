// 3-D convolution (conv2d is the kt = 1 case): im2col of a block of output rows of one output
// time slice (bounded memory), then one sgemm W[O, C*k] @ cols -> y. Parallel over blocks.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/thread_pool.h"

namespace wan22::cpu {

namespace {
constexpr int64_t kColsBytes = int64_t{8} << 20;  // im2col budget per task

void fill_bias_rows(float* y, int64_t O, int64_t ld, int64_t n, const float* bias) {
  for (int64_t o = 0; o < O; ++o) std::fill(y + o * ld, y + o * ld + n, bias ? bias[o] : 0.f);
}

// cols[(c,dt,dh,dw), (ho - ho0) * Wo + wo] for output time `to`, rows [ho0, ho1).
void im2col(const float* xn, const Conv3dParams& p, int64_t to, int64_t ho0, int64_t ho1, float* cols) {
  const int64_t P = (ho1 - ho0) * p.Wo;
  const int64_t HW = p.H * p.W;
  int64_t row = 0;
  for (int64_t c = 0; c < p.C; ++c) {
    for (int64_t dt = 0; dt < p.kt; ++dt) {
      const int64_t ti = to * p.stride[0] - p.pad[0] + dt;
      const bool t_ok = ti >= 0 && ti < p.T;
      const float* xt = xn + (c * p.T + (t_ok ? ti : 0)) * HW;
      for (int64_t dh = 0; dh < p.kh; ++dh) {
        for (int64_t dw = 0; dw < p.kw; ++dw, ++row) {
          float* dst = cols + row * P;
          if (!t_ok) {
            std::fill(dst, dst + P, 0.f);
            continue;
          }
          // Valid output columns: 0 <= wo*sw - pw0 + dw < W.
          const int64_t off_w = dw - p.pad[4];
          int64_t wo_lo = 0, wo_hi = p.Wo;  // [wo_lo, wo_hi)
          if (off_w < 0) wo_lo = std::min(p.Wo, (-off_w + p.stride[2] - 1) / p.stride[2]);
          if (p.W - off_w <= 0) {
            wo_hi = 0;
          } else {
            wo_hi = std::min(p.Wo, (p.W - off_w + p.stride[2] - 1) / p.stride[2]);
          }
          wo_hi = std::max(wo_hi, wo_lo);
          for (int64_t ho = ho0; ho < ho1; ++ho) {
            float* d = dst + (ho - ho0) * p.Wo;
            const int64_t hi = ho * p.stride[1] - p.pad[2] + dh;
            if (hi < 0 || hi >= p.H) {
              std::fill(d, d + p.Wo, 0.f);
              continue;
            }
            const float* src = xt + hi * p.W;
            std::fill(d, d + wo_lo, 0.f);
            if (wo_hi > wo_lo) {
              if (p.stride[2] == 1) {
                std::memcpy(d + wo_lo, src + wo_lo + off_w, static_cast<size_t>(wo_hi - wo_lo) * sizeof(float));
              } else {
                for (int64_t wo = wo_lo; wo < wo_hi; ++wo) d[wo] = src[wo * p.stride[2] + off_w];
              }
            }
            std::fill(d + wo_hi, d + p.Wo, 0.f);
          }
        }
      }
    }
  }
}
}  // namespace

void conv3d(const float* x, const float* w, const float* bias, float* y, const Conv3dParams& p) {
  if (p.N == 0 || p.O == 0 || p.To == 0 || p.Ho == 0 || p.Wo == 0) return;
  const int64_t CK = p.C * p.kt * p.kh * p.kw;
  const int64_t out_plane = p.To * p.Ho * p.Wo;  // ld of y between output channels
  const int nt = default_pool().num_threads();
  const bool pointwise = p.kt == 1 && p.kh == 1 && p.kw == 1 && p.stride == std::array<int64_t, 3>{1, 1, 1} &&
                         p.pad == std::array<int64_t, 6>{0, 0, 0, 0, 0, 0};
  if (pointwise) {
    // y[n] = w @ x[n] with x[n] viewed as [C, T*H*W]; split the positions into chunks.
    const int64_t S = out_plane;
    const int64_t chunk = std::max<int64_t>(64, (S + nt - 1) / nt);
    const int64_t chunks = (S + chunk - 1) / chunk;
    parallel_for(0, p.N * chunks, 1, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t) {
        const int64_t n = t / chunks, s0 = (t % chunks) * chunk, s1 = std::min(S, s0 + chunk);
        float* yb = y + n * p.O * S + s0;
        if (bias) fill_bias_rows(yb, p.O, S, s1 - s0, bias);
        sgemm(false, false, p.O, s1 - s0, p.C, 1.f, w, p.C, x + n * p.C * S + s0, S, bias ? 1.f : 0.f, yb, S);
      }
    });
    return;
  }
  // Rows per task: within the im2col budget, and small enough for >= 8 tasks per thread (balance),
  // but at least ~256 output columns per sgemm.
  const int64_t row_bytes = CK * p.Wo * static_cast<int64_t>(sizeof(float));
  const int64_t slices = p.N * p.To;
  const int64_t mem_rows = std::max<int64_t>(1, kColsBytes / std::max<int64_t>(row_bytes, 1));
  const int64_t balance_rows = std::max<int64_t>(1, slices * p.Ho / (8 * nt));
  const int64_t min_rows = (256 + p.Wo - 1) / p.Wo;
  int64_t rows = std::min(mem_rows, std::max(min_rows, balance_rows));
  rows = std::clamp<int64_t>(rows, 1, p.Ho);
  const int64_t blocks = (p.Ho + rows - 1) / rows;
  const int64_t in_batch = p.C * p.T * p.H * p.W;
  parallel_for(0, slices * blocks, 1, [&](int64_t tb, int64_t te) {
    std::vector<float> cols;
    for (int64_t t = tb; t < te; ++t) {
      const int64_t blk = t % blocks, slice = t / blocks;
      const int64_t n = slice / p.To, to = slice % p.To;
      const int64_t ho0 = blk * rows, ho1 = std::min(p.Ho, ho0 + rows);
      const int64_t P = (ho1 - ho0) * p.Wo;
      cols.resize(static_cast<size_t>(CK * P));
      im2col(x + n * in_batch, p, to, ho0, ho1, cols.data());
      float* yb = y + n * p.O * out_plane + to * p.Ho * p.Wo + ho0 * p.Wo;
      if (bias) fill_bias_rows(yb, p.O, out_plane, P, bias);
      sgemm(false, false, p.O, P, CK, 1.f, w, CK, cols.data(), P, bias ? 1.f : 0.f, yb, out_plane);
    }
  });
}

void upsample_nearest2d(const float* x, float* y, int64_t outer, int64_t H, int64_t W, int64_t sh,
                        int64_t sw) {
  const int64_t Wo = W * sw;
  parallel_for(0, outer * H, 64, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t o = r / H, hi = r % H;
      const float* src = x + r * W;
      float* dst0 = y + (o * H * sh + hi * sh) * Wo;
      for (int64_t wi = 0; wi < W; ++wi)
        for (int64_t k = 0; k < sw; ++k) dst0[wi * sw + k] = src[wi];
      for (int64_t k = 1; k < sh; ++k) std::memcpy(dst0 + k * Wo, dst0, static_cast<size_t>(Wo) * sizeof(float));
    }
  });
}

}  // namespace wan22::cpu
