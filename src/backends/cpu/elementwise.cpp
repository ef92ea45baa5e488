// Elementwise kernels: unary maps, broadcasting binary ops, axpby, softmax.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/vec_math.h"
#include "core/thread_pool.h"

namespace wan22::cpu {

namespace {
constexpr int64_t kGrain = 1 << 14;

template <class F>
void map_unary(const float* x, float* y, int64_t n, F f) {
  parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

// Drops size-1 dims and merges neighbours that both operands walk linearly (out is contiguous),
// so e.g. equal shapes become one flat loop and [N,C,T,H,W] + [C,1,1,1] becomes (N)(C)(T*H*W).
void collapse_dims(std::vector<int64_t>& shape, std::vector<int64_t>& as, std::vector<int64_t>& bs) {
  std::vector<int64_t> s2, a2, b2;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!s2.empty() && a2.back() == as[d] * shape[d] && b2.back() == bs[d] * shape[d]) {
      s2.back() *= shape[d];
      a2.back() = as[d];
      b2.back() = bs[d];
    } else {
      s2.push_back(shape[d]);
      a2.push_back(as[d]);
      b2.push_back(bs[d]);
    }
  }
  shape.swap(s2);
  as.swap(a2);
  bs.swap(b2);
}

template <class F>
void map_binary(const float* a, std::vector<int64_t> as, const float* b, std::vector<int64_t> bs,
                float* out, std::vector<int64_t> shape, F f) {
  collapse_dims(shape, as, bs);
  const int nd = static_cast<int>(shape.size());
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total == 0) return;
  if (nd == 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  const int64_t inner = shape[nd - 1];
  const int64_t sa = as[nd - 1], sb = bs[nd - 1];
  const int64_t rows = total / inner;
  parallel_for(0, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      int64_t rem = r, oa = 0, ob = 0;
      for (int d = nd - 2; d >= 0; --d) {
        const int64_t i = rem % shape[d];
        rem /= shape[d];
        oa += i * as[d];
        ob += i * bs[d];
      }
      const float* pa = a + oa;
      const float* pb = b + ob;
      float* po = out + r * inner;
      if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], pb[i]);
      } else if (sa == 1 && sb == 0) {
        const float vb = pb[0];
        for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], vb);
      } else if (sa == 0 && sb == 1) {
        const float va = pa[0];
        for (int64_t i = 0; i < inner; ++i) po[i] = f(va, pb[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i * sa], pb[i * sb]);
      }
    }
  });
}

// Parallel y = f(x) with an AVX2 body (VEC: an expression of __m256 v) and a scalar tail (SCA: of float v).
#ifdef WAN22_CPU_AVX2
#define WAN22_VMAP(x, y, n, VEC, SCA)                                                           \
  parallel_for(0, n, kGrain, [&](int64_t b_, int64_t e_) {                                      \
    vm::map((x) + b_, (y) + b_, e_ - b_, [&](__m256 v) { return VEC; }, [&](float v) { return SCA; }); \
  })
#else
#define WAN22_VMAP(x, y, n, VEC, SCA) map_unary(x, y, n, [&](float v) { return SCA; })
#endif
}  // namespace

void unary(Unary op, const float* x, float* y, int64_t n, float p0, float p1) {
  switch (op) {
    case Unary::kNeg: return map_unary(x, y, n, [](float v) { return -v; });
    case Unary::kExp: WAN22_VMAP(x, y, n, vm::exp8(v), std::exp(v)); return;
    case Unary::kLog: return map_unary(x, y, n, [](float v) { return std::log(v); });
    case Unary::kSqrt: return map_unary(x, y, n, [](float v) { return std::sqrt(v); });
    case Unary::kRsqrt: return map_unary(x, y, n, [](float v) { return 1.0f / std::sqrt(v); });
    case Unary::kTanh: WAN22_VMAP(x, y, n, vm::tanh8(v), std::tanh(v)); return;
    case Unary::kSigmoid: WAN22_VMAP(x, y, n, vm::sigmoid8(v), vm::sigmoid_s(v)); return;
    case Unary::kAbs: return map_unary(x, y, n, [](float v) { return std::fabs(v); });
    case Unary::kSin: return map_unary(x, y, n, [](float v) { return std::sin(v); });
    case Unary::kCos: return map_unary(x, y, n, [](float v) { return std::cos(v); });
    case Unary::kSilu: WAN22_VMAP(x, y, n, vm::silu8(v), vm::silu_s(v)); return;
    case Unary::kGeluTanh: WAN22_VMAP(x, y, n, vm::gelu_tanh8(v), vm::gelu_tanh_s(v)); return;
    case Unary::kGeluErf:
      return map_unary(x, y, n, [](float v) {
        constexpr float kAlpha = 0.7071067811865476f;  // 1/sqrt(2)
        return 0.5f * v * (1.0f + std::erf(v * kAlpha));
      });
    case Unary::kAddScalar: return map_unary(x, y, n, [p0](float v) { return v + p0; });
    case Unary::kMulScalar: return map_unary(x, y, n, [p0](float v) { return v * p0; });
    case Unary::kClamp:
      return map_unary(x, y, n, [p0, p1](float v) {
        if (std::isnan(v)) return v;
        return std::min(std::max(v, p0), p1);
      });
  }
}

void binary(Binary op, const float* a, const std::vector<int64_t>& as, const float* b,
            const std::vector<int64_t>& bs, float* out, const std::vector<int64_t>& shape) {
  switch (op) {
    case Binary::kAdd: return map_binary(a, as, b, bs, out, shape, [](float x, float y) { return x + y; });
    case Binary::kSub: return map_binary(a, as, b, bs, out, shape, [](float x, float y) { return x - y; });
    case Binary::kMul: return map_binary(a, as, b, bs, out, shape, [](float x, float y) { return x * y; });
    case Binary::kDiv: return map_binary(a, as, b, bs, out, shape, [](float x, float y) { return x / y; });
    // torch.maximum/minimum propagate NaN.
    case Binary::kMax:
      return map_binary(a, as, b, bs, out, shape, [](float x, float y) {
        return (std::isnan(x) || std::isnan(y)) ? std::numeric_limits<float>::quiet_NaN() : (x > y ? x : y);
      });
    case Binary::kMin:
      return map_binary(a, as, b, bs, out, shape, [](float x, float y) {
        return (std::isnan(x) || std::isnan(y)) ? std::numeric_limits<float>::quiet_NaN() : (x < y ? x : y);
      });
  }
}

void axpby(float a, const float* x, float b, const float* y, float* out, int64_t n) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[i] = a * x[i] + b * y[i];
  });
}

void softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  if (n == 0) return;
  const int64_t rows = outer * inner;
  parallel_for(0, rows, std::max<int64_t>(1, 4096 / n), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t o = r / inner, i = r % inner;
      const float* px = x + o * n * inner + i;
      float* py = y + o * n * inner + i;
      if (inner == 1) {
        float mx = vm::max_n(px, n, -std::numeric_limits<float>::infinity());
        if (mx == -std::numeric_limits<float>::infinity()) mx = 0.f;  // all -inf: 0/0 = NaN like torch
        std::copy(px, px + n, py);
        const float inv = 1.0f / vm::exp_sub_sum(py, n, mx);
        for (int64_t j = 0; j < n; ++j) py[j] *= inv;
        continue;
      }
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, px[j * inner]);
      if (mx == -std::numeric_limits<float>::infinity()) mx = 0.f;
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        const float e = std::exp(px[j * inner] - mx);
        py[j * inner] = e;
        s += e;
      }
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t j = 0; j < n; ++j) py[j * inner] *= inv;
    }
  });
}

void reduce(Reduce op, const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t rows = outer * inner;
  parallel_for(0, rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t o = r / inner, i = r % inner;
      const float* px = x + o * n * inner + i;
      if (op == Reduce::kMax) {
        float m = -std::numeric_limits<float>::infinity();
        bool nan = false;
        for (int64_t j = 0; j < n; ++j) {
          const float v = px[j * inner];
          if (std::isnan(v)) nan = true;
          m = std::max(m, v);
        }
        y[r] = nan ? std::numeric_limits<float>::quiet_NaN() : m;
      } else {
        double s = 0.0;
        for (int64_t j = 0; j < n; ++j) s += px[j * inner];
        if (op == Reduce::kMean) s /= static_cast<double>(n);
        y[r] = static_cast<float>(s);
      }
    }
  });
}

}  // namespace wan22::cpu
