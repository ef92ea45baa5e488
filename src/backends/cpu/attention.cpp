// Flash-style attention: per (batch, head, query tile), loop over key tiles with an online
// softmax (running row max and sum); the only score buffer is one Tq x Tk tile.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/vec_math.h"
#include "core/thread_pool.h"

namespace wan22::cpu {

namespace {
// Tile sizes: 64 x 256 measured within noise of the best of {32..256} x {128..1024} on this box
// (single thread, CPU time: 55-80 GFLOP/s for D = 64..128, vs ~83 for a large sgemm).
constexpr int64_t kTileQ = 64;
constexpr int64_t kTileK = 256;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Scratch {
  std::vector<float> s, acc, m, l;
  void ensure(int64_t D) {
    s.resize(static_cast<size_t>(kTileQ * kTileK));
    acc.resize(static_cast<size_t>(kTileQ * D));
    m.resize(kTileQ);
    l.resize(kTileQ);
  }
};

void attend_tile(const float* q, const float* k, const float* v, float* out, const AttentionParams& p,
                 int64_t b, int64_t h, int64_t q0, int64_t tq, Scratch& sc) {
  const int64_t H = p.H, D = p.D, HD = H * D;
  const int64_t klen = p.k_lens ? std::clamp<int64_t>(p.k_lens[b], 0, p.Lk) : p.Lk;
  const float* qt = q + ((b * p.Lq + q0) * H + h) * D;
  float* acc = sc.acc.data();
  float* s = sc.s.data();
  float* m = sc.m.data();
  float* l = sc.l.data();
  std::fill(acc, acc + tq * D, 0.f);
  std::fill(m, m + tq, kNegInf);
  std::fill(l, l + tq, 0.f);
  const float* bias_bh = nullptr;
  if (p.bias) {
    const int64_t bb = p.bias_batch == 1 ? 0 : b;
    bias_bh = p.bias + ((bb * H + h) * p.Lq + q0) * p.Lk;
  }
  for (int64_t k0 = 0; k0 < klen; k0 += kTileK) {
    const int64_t tk = std::min(kTileK, klen - k0);
    const float* kt = k + ((b * p.Lk + k0) * H + h) * D;
    const float* vt = v + ((b * p.Lk + k0) * H + h) * D;
    // s = scale * q k^T
    sgemm(false, true, tq, tk, D, p.scale, qt, HD, kt, HD, 0.f, s, kTileK);
    for (int64_t i = 0; i < tq; ++i) {
      float* si = s + i * kTileK;
      if (bias_bh) {
        const float* bi = bias_bh + i * p.Lk + k0;
        for (int64_t j = 0; j < tk; ++j) si[j] += bi[j];
      }
      const float mx = vm::max_n(si, tk, m[i]);
      const float ref = mx == kNegInf ? 0.f : mx;  // all masked so far: keep zeros, avoid NaN
      const float alpha = std::exp(m[i] - ref);
      const float sum = vm::exp_sub_sum(si, tk, ref);
      l[i] = l[i] * alpha + sum;
      m[i] = mx;
      if (alpha != 1.f) {
        float* ai = acc + i * D;
        for (int64_t d = 0; d < D; ++d) ai[d] *= alpha;
      }
    }
    // acc += p v
    sgemm(false, false, tq, D, tk, 1.f, s, kTileK, vt, HD, 1.f, acc, D);
  }
  for (int64_t i = 0; i < tq; ++i) {
    float* o = out + ((b * p.Lq + q0 + i) * H + h) * D;
    const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
    const float* ai = acc + i * D;
    for (int64_t d = 0; d < D; ++d) o[d] = ai[d] * inv;
  }
}
}  // namespace

void attention(const float* q, const float* k, const float* v, float* out, const AttentionParams& p) {
  if (p.B == 0 || p.Lq == 0 || p.H == 0 || p.D == 0) return;
  const int64_t slice = p.head_slice > 0 ? std::min(p.head_slice, p.H) : p.H;
  const int64_t qtiles = (p.Lq + kTileQ - 1) / kTileQ;
  for (int64_t h0 = 0; h0 < p.H; h0 += slice) {
    const int64_t hs = std::min(slice, p.H - h0);
    const int64_t tasks = p.B * hs * qtiles;
    parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
      Scratch sc;
      sc.ensure(p.D);
      for (int64_t t = tb; t < te; ++t) {
        const int64_t qt = t % qtiles;
        const int64_t h = h0 + (t / qtiles) % hs;
        const int64_t b = t / (qtiles * hs);
        const int64_t q0 = qt * kTileQ;
        attend_tile(q, k, v, out, p, b, h, q0, std::min(kTileQ, p.Lq - q0), sc);
      }
    });
  }
}

}  // namespace wan22::cpu
