// Elementwise, activation, softmax and reduction ops against double-precision references.
#include <gtest/gtest.h>

#include <functional>

#include "ops/ops.h"
#include "test_ops_util.h"

using namespace wan22;
using namespace wan22::test;

namespace {
// Broadcast reference: out index -> a/b index by NumPy rules.
std::vector<double> ref_binary(const Tensor& a, const Tensor& b, const Shape& out,
                               const std::function<double(double, double)>& f) {
  const auto av = as_double(a), bv = as_double(b);
  const int64_t n = shape_numel(out);
  std::vector<double> y(n);
  auto src_index = [&](const Shape& s, int64_t i) {
    int64_t off = 0, mul = 1;
    for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
      const int64_t idx = i % out[d];
      i /= out[d];
      const int sd = d - static_cast<int>(out.size() - s.size());
      if (sd >= 0) {
        off += (s[sd] == 1 ? 0 : idx) * mul;
        mul *= s[sd];
      }
    }
    return off;
  };
  for (int64_t i = 0; i < n; ++i) y[i] = f(av[src_index(a.shape(), i)], bv[src_index(b.shape(), i)]);
  return y;
}
}  // namespace

TEST(OpsElementwise, BinaryBroadcasting) {
  struct Case {
    Shape a, b, out;
  };
  const std::vector<Case> cases = {
      {{7, 13}, {7, 13}, {7, 13}},       {{7, 13}, {13}, {7, 13}},         {{7, 1}, {1, 13}, {7, 13}},
      {{2, 3, 5}, {3, 1}, {2, 3, 5}},    {{1}, {4, 6}, {4, 6}},            {{3, 1, 5}, {1, 4, 1}, {3, 4, 5}},
      {{2, 37, 5}, {2, 1, 5}, {2, 37, 5}}, {{}, {3}, {3}},
      {{2, 3, 4, 5, 6}, {3, 1, 1, 1}, {2, 3, 4, 5, 6}}, {{2, 3, 4, 5, 6}, {2, 1, 4, 1, 6}, {2, 3, 4, 5, 6}},
      {{1, 1, 7}, {1, 1, 1}, {1, 1, 7}}, {{4, 1}, {4, 9}, {4, 9}},
  };
  int seed = 100;
  for (const Case& c : cases) {
    Tensor a = rnd(c.a, seed++), b = rnd(c.b, seed++, 0.5f, 2.f);  // b away from zero for div
    struct Op {
      const char* name;
      Tensor (*fn)(const Tensor&, const Tensor&);
      std::function<double(double, double)> ref;
    };
    const std::vector<Op> opsv = {
        {"add", ops::add, [](double x, double y) { return x + y; }},
        {"sub", ops::sub, [](double x, double y) { return x - y; }},
        {"mul", ops::mul, [](double x, double y) { return x * y; }},
        {"div", ops::div, [](double x, double y) { return x / y; }},
        {"maximum", ops::maximum, [](double x, double y) { return std::max(x, y); }},
        {"minimum", ops::minimum, [](double x, double y) { return std::min(x, y); }},
    };
    for (const Op& op : opsv) {
      Tensor y = op.fn(a, b);
      ASSERT_EQ(y.shape(), c.out) << op.name << " " << shape_str(c.a) << " " << shape_str(c.b);
      EXPECT_REL_CLOSE(y, ref_binary(a, b, c.out, op.ref), 1e-6) << op.name << " " << shape_str(c.a);
      Tensor y2 = op.fn(b, a);
      EXPECT_REL_CLOSE(y2, ref_binary(b, a, c.out, op.ref), 1e-6) << op.name << " swapped";
    }
  }
  EXPECT_THROW(ops::add(rnd({3, 4}, 1), rnd({5}, 2)), Error);
  EXPECT_THROW(ops::mul(rnd({2, 3}, 1), rnd({3, 2}, 2)), Error);
}

TEST(OpsElementwise, NonContiguousAndLowPrecisionInputs) {
  Tensor a = rnd({13, 7}, 3).transpose(0, 1);  // [7, 13] view
  Tensor b = rnd({7, 13}, 4).to(DType::kBF16);
  Tensor y = ops::add(a, b);
  EXPECT_REL_CLOSE(y, ref_binary(a.contiguous(), b, {7, 13}, [](double x, double z) { return x + z; }), 1e-6);
}

TEST(OpsElementwise, UnaryMaps) {
  Tensor x = rnd({5, 37}, 5, -3.f, 3.f);
  Tensor xp = rnd({5, 37}, 6, 0.1f, 4.f);
  const auto xv = as_double(x), pv = as_double(xp);
  auto check = [&](const char* name, const Tensor& got, const std::vector<double>& src,
                   const std::function<double(double)>& f, double tol) {
    std::vector<double> ref(src.size());
    for (size_t i = 0; i < src.size(); ++i) ref[i] = f(src[i]);
    EXPECT_REL_CLOSE(got, ref, tol) << name;
  };
  check("neg", ops::neg(x), xv, [](double v) { return -v; }, 1e-7);
  check("exp", ops::exp(x), xv, [](double v) { return std::exp(v); }, 1e-6);
  check("log", ops::log(xp), pv, [](double v) { return std::log(v); }, 1e-6);
  check("sqrt", ops::sqrt(xp), pv, [](double v) { return std::sqrt(v); }, 1e-6);
  check("rsqrt", ops::rsqrt(xp), pv, [](double v) { return 1 / std::sqrt(v); }, 1e-6);
  check("tanh", ops::tanh(x), xv, [](double v) { return std::tanh(v); }, 1e-6);
  check("sigmoid", ops::sigmoid(x), xv, [](double v) { return 1 / (1 + std::exp(-v)); }, 1e-6);
  check("abs", ops::abs(x), xv, [](double v) { return std::fabs(v); }, 1e-7);
  check("sin", ops::sin(x), xv, [](double v) { return std::sin(v); }, 1e-6);
  check("cos", ops::cos(x), xv, [](double v) { return std::cos(v); }, 1e-6);
  check("silu", ops::silu(x), xv, [](double v) { return v / (1 + std::exp(-v)); }, 1e-6);
  check("gelu_tanh", ops::gelu_tanh(x), xv,
        [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); }, 1e-6);
  check("gelu_erf", ops::gelu_erf(x), xv, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, 1e-6);
  check("add_scalar", ops::add_scalar(x, 0.75f), xv, [](double v) { return v + 0.75; }, 1e-7);
  check("mul_scalar", ops::mul_scalar(x, -1.5f), xv, [](double v) { return v * -1.5; }, 1e-7);
  check("clamp", ops::clamp(x, -1.f, 0.5f), xv, [](double v) { return std::min(std::max(v, -1.0), 0.5); }, 1e-7);
  // gelu_tanh and gelu_erf really differ (a test that cannot confuse them).
  EXPECT_GT(rel_err(ops::gelu_tanh(x), ops::gelu_erf(x)), 1e-5);
  EXPECT_THROW(ops::clamp(x, 1.f, -1.f), Error);
}

TEST(OpsElementwise, AxpbyAndInPlaceAdd) {
  Tensor x = rnd({3, 17}, 7), y = rnd({3, 17}, 8);
  const auto xv = as_double(x), yv = as_double(y);
  std::vector<double> ref(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) ref[i] = 0.3 * xv[i] - 1.7 * yv[i];
  EXPECT_REL_CLOSE(ops::axpby(0.3f, x, -1.7f, y), ref, 1e-6);
  EXPECT_THROW(ops::axpby(1.f, x, 1.f, rnd({17, 3}, 9)), Error);

  Tensor a = rnd({4, 3, 5}, 10);
  Tensor b = rnd({3, 1}, 11);
  const auto want = ref_binary(a, b, a.shape(), [](double p, double q) { return p + q; });
  ops::add_(a, b);
  EXPECT_REL_CLOSE(a, want, 1e-6);
  Tensor big = rnd({4, 6}, 12);
  Tensor small = rnd({2, 6}, 13);
  EXPECT_THROW(ops::add_(small, big), Error);
  Tensor view = rnd({6, 4}, 14).transpose(0, 1);
  EXPECT_THROW(ops::add_(view, b), Error);
}

TEST(OpsElementwise, SoftmaxAnyDim) {
  Tensor x = rnd({3, 7, 5}, 15, -4.f, 4.f);
  const auto xv = as_double(x);
  for (int dim : {0, 1, 2, -1}) {
    const int d = dim < 0 ? dim + 3 : dim;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; ++i) outer *= x.shape()[i];
    for (int i = d + 1; i < 3; ++i) inner *= x.shape()[i];
    const int64_t n = x.shape()[d];
    std::vector<double> ref(xv.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        double mx = -1e300, s = 0;
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, xv[(o * n + j) * inner + i]);
        for (int64_t j = 0; j < n; ++j) s += std::exp(xv[(o * n + j) * inner + i] - mx);
        for (int64_t j = 0; j < n; ++j) ref[(o * n + j) * inner + i] = std::exp(xv[(o * n + j) * inner + i] - mx) / s;
      }
    EXPECT_REL_CLOSE(ops::softmax(x, dim), ref, 1e-6) << "dim " << dim;
  }
  EXPECT_THROW(ops::softmax(x, 3), Error);
}

TEST(OpsReduce, SumMeanAmax) {
  Tensor x = rnd({4, 13, 6}, 16);
  const auto xv = as_double(x);
  for (int d = 0; d < 3; ++d) {
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; ++i) outer *= x.shape()[i];
    for (int i = d + 1; i < 3; ++i) inner *= x.shape()[i];
    const int64_t n = x.shape()[d];
    std::vector<double> s(outer * inner, 0), m(outer * inner, -1e300);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < inner; ++i) {
          s[o * inner + i] += xv[(o * n + j) * inner + i];
          m[o * inner + i] = std::max(m[o * inner + i], xv[(o * n + j) * inner + i]);
        }
    std::vector<double> mean(s);
    for (double& v : mean) v /= n;
    Tensor ts = ops::sum(x, d), tk = ops::sum(x, d, true);
    Shape ks = x.shape();
    ks[d] = 1;
    EXPECT_EQ(tk.shape(), ks);
    EXPECT_EQ(ts.ndim(), 2);
    EXPECT_REL_CLOSE(ts, s, 1e-6);
    EXPECT_REL_CLOSE(tk, s, 1e-6);
    EXPECT_REL_CLOSE(ops::mean(x, d), mean, 1e-6);
    EXPECT_REL_CLOSE(ops::amax(x, d), m, 0);
  }
  double total = 0, mx = 0;
  for (double v : xv) {
    total += v;
    mx = std::max(mx, std::fabs(v));
  }
  EXPECT_NEAR(ops::sum_all(x), total, 1e-9 * xv.size());
  EXPECT_DOUBLE_EQ(ops::max_abs(x), mx);
  Tensor y = ops::add_scalar(x, 0.01f);
  EXPECT_NEAR(ops::rel_error(y, x), rel_err(y, x), 1e-9);
  EXPECT_GT(ops::rel_error(y, x), 0.0);
  EXPECT_EQ(ops::rel_error(x, x), 0.0);
  EXPECT_THROW(ops::rel_error(x, rnd({3}, 1)), Error);
  EXPECT_THROW(ops::sum(x, 3), Error);
}

TEST(OpsElementwise, VectorisedMathAccuracyAndEdges) {
  // Dense sweep through every branch of the vector exp/tanh (incl. the 0.625 switch and the
  // exp over/underflow limits), per element against double precision.
  std::vector<float> v;
  for (float t = -95.f; t <= 95.f; t += 0.0173f) v.push_back(t);
  for (float t = -1.f; t <= 1.f; t += 0.000917f) v.push_back(t);
  v.insert(v.end(), {0.f, -0.f, 0.625f, -0.625f, 88.37f, -87.33f, 1e-30f, -1e-30f});
  const int64_t n = static_cast<int64_t>(v.size());
  Tensor x = Tensor::from_vector(v, {n});
  Tensor ye = ops::exp(x), yt = ops::tanh(x), ys = ops::sigmoid(x), yl = ops::silu(x), yg = ops::gelu_tanh(x);
  auto ulp_close = [](double got, double ref, double rel) {
    if (std::isinf(ref)) return std::isinf(got) && (got > 0) == (ref > 0);
    return std::fabs(got - ref) <= rel * std::fabs(ref) + 1e-35;  // below 1e-35: float underflow range
  };
  for (int64_t i = 0; i < n; ++i) {
    const double d = v[i];
    const double e = std::exp(d);
    const double ref_e = e > 3.4028234663852886e38 ? INFINITY : (e < 1.1754943508222875e-38 ? 0.0 : e);
    if (d > -87.3) {
      ASSERT_TRUE(ulp_close(ye.item_f32(i), ref_e, 4e-7)) << "exp(" << d << ") = " << ye.item_f32(i);
    }
    ASSERT_TRUE(ulp_close(yt.item_f32(i), std::tanh(d), 6e-7)) << "tanh(" << d << ") = " << yt.item_f32(i);
    ASSERT_TRUE(ulp_close(ys.item_f32(i), 1 / (1 + std::exp(-d)), 6e-7)) << "sigmoid(" << d << ")";
    ASSERT_TRUE(ulp_close(yl.item_f32(i), d / (1 + std::exp(-d)), 6e-7)) << "silu(" << d << ") = " << yl.item_f32(i);
    const double g = 0.5 * d * (1 + std::tanh(std::sqrt(2 / M_PI) * (d + 0.044715 * d * d * d)));
    ASSERT_NEAR(yg.item_f32(i), g, 1e-6 * std::fabs(g) + 1e-7) << "gelu_tanh(" << d << ")";
  }
  // Specials: exp(-inf) = 0, exp(+large) = inf, NaN propagates, tanh saturates to +-1.
  Tensor s = Tensor::from_vector({-INFINITY, INFINITY, NAN, -1000.f, 1000.f, -3.f, 2.f, 0.5f}, {8});
  Tensor es = ops::exp(s), ts = ops::tanh(s);
  EXPECT_EQ(es.item_f32(0), 0.f);
  EXPECT_TRUE(std::isinf(es.item_f32(1)));
  EXPECT_TRUE(std::isnan(es.item_f32(2)));
  EXPECT_EQ(es.item_f32(3), 0.f);
  EXPECT_TRUE(std::isinf(es.item_f32(4)));
  EXPECT_EQ(ts.item_f32(0), -1.f);
  EXPECT_EQ(ts.item_f32(1), 1.f);
  EXPECT_TRUE(std::isnan(ts.item_f32(2)));
  EXPECT_EQ(ts.item_f32(3), -1.f);
  EXPECT_EQ(ops::sigmoid(s).item_f32(0), 0.f);
  EXPECT_EQ(ops::sigmoid(s).item_f32(1), 1.f);
}
