// linear / matmul against naive double-precision loops.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "test_ops_util.h"

using namespace wan22;
using namespace wan22::test;

namespace {
// y[m, n] = sum_k x[m, k] w[n, k] + b[n], with w read through its own dtype.
std::vector<double> ref_linear(const Tensor& x, const Tensor& w, const Tensor* b) {
  const auto xv = as_double(x), wv = as_double(w);
  const int64_t K = w.dim(1), N = w.dim(0), M = x.numel() / K;
  std::vector<double> bv = b ? as_double(*b) : std::vector<double>(N, 0.0);
  std::vector<double> y(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = bv[n];
      for (int64_t k = 0; k < K; ++k) s += xv[m * K + k] * wv[n * K + k];
      y[m * N + n] = s;
    }
  return y;
}
}  // namespace

TEST(OpsLinear, F32WithAndWithoutBias) {
  Tensor x = rnd({3, 7, 37}, 1), w = rnd({13, 37}, 2), b = rnd({13}, 3);
  Tensor y = ops::linear(x, w, &b);
  EXPECT_EQ(y.shape(), (Shape{3, 7, 13}));
  EXPECT_REL_CLOSE(y, ref_linear(x, w, &b), 1e-5);
  Tensor y2 = ops::linear(x, w);
  EXPECT_REL_CLOSE(y2, ref_linear(x, w, nullptr), 1e-5);
}

TEST(OpsLinear, LowPrecisionWeights) {
  Tensor x = rnd({5, 64}, 4), b = rnd({29}, 6);
  for (DType dt : {DType::kBF16, DType::kF16, DType::kF8E4M3, DType::kF8E5M2}) {
    Tensor w = rnd({29, 64}, 5).to(dt);
    Tensor y = ops::linear(x, w, &b);
    // The reference reads the rounded weights, so only f32 accumulation error remains.
    EXPECT_REL_CLOSE(y, ref_linear(x, w, &b), 1e-5) << dtype_name(dt);
  }
}

TEST(OpsLinear, BlockedWeightPathManyOutputs) {
  // K large enough that the weight is converted in several row blocks across threads (M > 8, so
  // the sgemm path).
  Tensor x = rnd({13, 2051}, 7), w = rnd({1000, 2051}, 8).to(DType::kBF16), b = rnd({1000}, 9);
  Tensor y = ops::linear(x, w, &b);
  EXPECT_REL_CLOSE(y, ref_linear(x, w, &b), 1e-5);
  Tensor wf = rnd({1000, 2051}, 10);
  EXPECT_REL_CLOSE(ops::linear(x, wf), ref_linear(x, wf, nullptr), 1e-5);
}

TEST(OpsLinear, SmallBatchDotPathAndCrossover) {
  // M <= 8 rows use per-row dot products; 9 rows use sgemm. Odd K exercises the vector tails.
  for (int64_t M : {1, 2, 8, 9}) {
    Tensor x = rnd({M, 301}, 30 + M), b = rnd({67}, 40);
    for (DType dt : {DType::kF32, DType::kBF16, DType::kF8E4M3}) {
      Tensor w = rnd({67, 301}, 50).to(dt);
      EXPECT_REL_CLOSE(ops::linear(x, w, &b), ref_linear(x, w, &b), 1e-5) << "M " << M << " " << dtype_name(dt);
      EXPECT_REL_CLOSE(ops::linear(x, w), ref_linear(x, w, nullptr), 1e-5) << "M " << M << " " << dtype_name(dt);
    }
  }
}

TEST(OpsLinear, NonContiguousInputs) {
  Tensor xt = rnd({37, 11}, 11).transpose(0, 1);  // [11, 37] view
  Tensor wt = rnd({37, 13}, 12).transpose(0, 1);  // [13, 37] view
  ASSERT_FALSE(xt.is_contiguous());
  Tensor y = ops::linear(xt, wt);
  EXPECT_REL_CLOSE(y, ref_linear(xt.contiguous(), wt.contiguous(), nullptr), 1e-5);
}

TEST(OpsLinear, BadShapesThrow) {
  Tensor x = rnd({3, 8}, 1), w = rnd({4, 9}, 2), b = rnd({5}, 3);
  EXPECT_THROW(ops::linear(x, w), Error);
  Tensor w2 = rnd({4, 8}, 2);
  EXPECT_THROW(ops::linear(x, w2, &b), Error);
}

namespace {
std::vector<double> ref_matmul(const Tensor& a, const Tensor& b, const Shape& out) {
  // a, b already broadcast-expanded by the caller's index logic below.
  const int nd = static_cast<int>(out.size());
  const int64_t M = out[nd - 2], N = out[nd - 1], K = a.dim(-1);
  const int64_t batch = shape_numel(out) / (M * N);
  std::vector<double> y(batch * M * N);
  const Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  const Shape ob(out.begin(), out.end() - 2);
  auto offset = [&](const Shape& s, int64_t i) {
    // index of batch item i of ob in the (right-aligned, broadcast) batch shape s
    int64_t off = 0, mul = 1;
    for (int d = static_cast<int>(ob.size()) - 1; d >= 0; --d) {
      const int64_t idx = i % ob[d];
      i /= ob[d];
      const int sd = d - static_cast<int>(ob.size() - s.size());
      if (sd >= 0) {
        off += (s[sd] == 1 ? 0 : idx) * mul;
        mul *= s[sd];
      }
    }
    return off;
  };
  const auto av = as_double(a), bv = as_double(b);
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t oa = offset(ab, i) * M * K, obb = offset(bb, i) * K * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += av[oa + m * K + k] * bv[obb + k * N + n];
        y[(i * M + m) * N + n] = s;
      }
  }
  return y;
}
}  // namespace

TEST(OpsMatmul, Broadcasting) {
  Tensor a = rnd({2, 1, 7, 13}, 21), b = rnd({3, 13, 5}, 22);
  Tensor c = ops::matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{2, 3, 7, 5}));
  EXPECT_REL_CLOSE(c, ref_matmul(a, b, c.shape()), 1e-5);
  Tensor a2 = rnd({37, 13}, 23), b2 = rnd({4, 13, 9}, 24);
  Tensor c2 = ops::matmul(a2, b2);
  ASSERT_EQ(c2.shape(), (Shape{4, 37, 9}));
  EXPECT_REL_CLOSE(c2, ref_matmul(a2, b2, c2.shape()), 1e-5);
}

TEST(OpsMatmul, NonContiguousAndWide) {
  Tensor a = rnd({5, 301}, 25);
  Tensor bt = rnd({77, 301}, 26).transpose(0, 1);  // [301, 77] view
  Tensor c = ops::matmul(a, bt);
  EXPECT_REL_CLOSE(c, ref_matmul(a, bt.contiguous(), c.shape()), 1e-5);
  Tensor a3 = rnd({2, 41, 17}, 27).to(DType::kBF16), b3 = rnd({2, 17, 3}, 28);
  Tensor c3 = ops::matmul(a3, b3);
  EXPECT_REL_CLOSE(c3, ref_matmul(a3, b3, c3.shape()), 1e-5);
}

TEST(OpsMatmul, BadShapesThrow) {
  EXPECT_THROW(ops::matmul(rnd({3, 4}, 1), rnd({5, 6}, 2)), Error);
  EXPECT_THROW(ops::matmul(rnd({2, 3, 4}, 1), rnd({3, 4, 6}, 2)), Error);
  EXPECT_THROW(ops::matmul(rnd({4}, 1), rnd({4, 6}, 2)), Error);
}
