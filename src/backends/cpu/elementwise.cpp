// Elementwise kernels: unary maps, broadcasting binary ops, axpby, softmax.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_kernels.h"
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

template <class F>
void map_binary(const float* a, const std::vector<int64_t>& as, const float* b,
                const std::vector<int64_t>& bs, float* out, const std::vector<int64_t>& shape, F f) {
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

inline float sigmoidf(float v) { return 1.0f / (1.0f + std::exp(-v)); }
}  // namespace

void unary(Unary op, const float* x, float* y, int64_t n, float p0, float p1) {
  switch (op) {
    case Unary::kNeg: return map_unary(x, y, n, [](float v) { return -v; });
    case Unary::kExp: return map_unary(x, y, n, [](float v) { return std::exp(v); });
    case Unary::kLog: return map_unary(x, y, n, [](float v) { return std::log(v); });
    case Unary::kSqrt: return map_unary(x, y, n, [](float v) { return std::sqrt(v); });
    case Unary::kRsqrt: return map_unary(x, y, n, [](float v) { return 1.0f / std::sqrt(v); });
    case Unary::kTanh: return map_unary(x, y, n, [](float v) { return std::tanh(v); });
    case Unary::kSigmoid: return map_unary(x, y, n, [](float v) { return sigmoidf(v); });
    case Unary::kAbs: return map_unary(x, y, n, [](float v) { return std::fabs(v); });
    case Unary::kSin: return map_unary(x, y, n, [](float v) { return std::sin(v); });
    case Unary::kCos: return map_unary(x, y, n, [](float v) { return std::cos(v); });
    case Unary::kSilu: return map_unary(x, y, n, [](float v) { return v / (1.0f + std::exp(-v)); });
    case Unary::kGeluTanh:
      return map_unary(x, y, n, [](float v) {
        constexpr float kBeta = 0.7978845608028654f;  // sqrt(2/pi)
        constexpr float kKappa = 0.044715f;
        const float inner = kBeta * (v + kKappa * v * v * v);
        return 0.5f * v * (1.0f + std::tanh(inner));
      });
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
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, px[j * inner]);
      if (mx == -std::numeric_limits<float>::infinity()) mx = 0.f;  // all -inf -> NaN like torch via 0/0
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
