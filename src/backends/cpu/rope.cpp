// Wan's 3-axis rotary embedding (rope_params + rope_apply of wan/modules/model.py), in double.
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/thread_pool.h"

namespace wan22::cpu {

namespace {
// cos/sin table [positions, parts] of rope_params(positions, dim, theta): angle = pos / theta^(2i/dim).
void axis_table(int64_t positions, int64_t dim, int64_t parts, double theta, std::vector<double>* cs,
                std::vector<double>* sn) {
  cs->resize(static_cast<size_t>(positions * parts));
  sn->resize(cs->size());
  for (int64_t i = 0; i < parts; ++i) {
    const double inv = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(dim));
    for (int64_t pos = 0; pos < positions; ++pos) {
      const double a = static_cast<double>(pos) * inv;
      (*cs)[pos * parts + i] = std::cos(a);
      (*sn)[pos * parts + i] = std::sin(a);
    }
  }
}
}  // namespace

void rope_3d(const float* x, float* y, int64_t B, int64_t L, int64_t H, int64_t D, int64_t f,
             int64_t h, int64_t w, double theta) {
  const int64_t c = D / 2;
  const int64_t cf = c - 2 * (c / 3), ch = c / 3, cw = c / 3;
  const int64_t df = D - 4 * (D / 6), dh = 2 * (D / 6), dw = 2 * (D / 6);
  std::vector<double> cos_f, sin_f, cos_h, sin_h, cos_w, sin_w;
  axis_table(f, df, cf, theta, &cos_f, &sin_f);
  axis_table(h, dh, ch, theta, &cos_h, &sin_h);
  axis_table(w, dw, cw, theta, &cos_w, &sin_w);
  const int64_t grid = f * h * w;
  const int64_t rows = B * L;
  parallel_for(0, rows, 16, [&](int64_t rb, int64_t re) {
    std::vector<double> cs(static_cast<size_t>(c)), sn(static_cast<size_t>(c));
    for (int64_t r = rb; r < re; ++r) {
      const int64_t l = r % L;
      const float* px = x + r * H * D;
      float* py = y + r * H * D;
      if (l >= grid) {
        std::memcpy(py, px, static_cast<size_t>(H * D) * sizeof(float));
        continue;
      }
      const int64_t fi = l / (h * w), hi = (l / w) % h, wi = l % w;
      for (int64_t i = 0; i < cf; ++i) {
        cs[i] = cos_f[fi * cf + i];
        sn[i] = sin_f[fi * cf + i];
      }
      for (int64_t i = 0; i < ch; ++i) {
        cs[cf + i] = cos_h[hi * ch + i];
        sn[cf + i] = sin_h[hi * ch + i];
      }
      for (int64_t i = 0; i < cw; ++i) {
        cs[cf + ch + i] = cos_w[wi * cw + i];
        sn[cf + ch + i] = sin_w[wi * cw + i];
      }
      for (int64_t hd = 0; hd < H; ++hd) {
        const float* xi = px + hd * D;
        float* yi = py + hd * D;
        for (int64_t i = 0; i < c; ++i) {
          const double re_ = xi[2 * i], im = xi[2 * i + 1];
          yi[2 * i] = static_cast<float>(re_ * cs[i] - im * sn[i]);
          yi[2 * i + 1] = static_cast<float>(re_ * sn[i] + im * cs[i]);
        }
      }
    }
  });
}

}  // namespace wan22::cpu
