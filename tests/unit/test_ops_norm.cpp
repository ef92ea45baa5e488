// Normalisation ops against double-precision loops.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "test_ops_util.h"

using namespace wan22;
using namespace wan22::test;

namespace {
std::vector<double> ref_layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, double eps) {
  const auto xv = as_double(x);
  const int64_t D = x.dim(-1), rows = x.numel() / D;
  const auto wv = w ? as_double(*w) : std::vector<double>(D, 1.0);
  const auto bv = b ? as_double(*b) : std::vector<double>(D, 0.0);
  std::vector<double> y(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < D; ++i) mean += xv[r * D + i];
    mean /= D;
    for (int64_t i = 0; i < D; ++i) var += (xv[r * D + i] - mean) * (xv[r * D + i] - mean);
    var /= D;
    for (int64_t i = 0; i < D; ++i) y[r * D + i] = (xv[r * D + i] - mean) / std::sqrt(var + eps) * wv[i] + bv[i];
  }
  return y;
}
}  // namespace

TEST(OpsNorm, LayerNormAffineAndPlain) {
  Tensor x = rnd({3, 5, 37}, 1, -2.f, 3.f), w = rnd({37}, 2), b = rnd({37}, 3);
  EXPECT_REL_CLOSE(ops::layer_norm(x, &w, &b, 1e-6f), ref_layer_norm(x, &w, &b, 1e-6), 1e-5);
  EXPECT_REL_CLOSE(ops::layer_norm(x, nullptr, nullptr, 1e-6f), ref_layer_norm(x, nullptr, nullptr, 1e-6), 1e-5);
  // Large eps matters: rows with small variance.
  Tensor xs = rnd({4, 13}, 4, -0.01f, 0.01f);
  Tensor w13 = w.narrow(0, 0, 13);  // a view of a larger tensor
  EXPECT_REL_CLOSE(ops::layer_norm(xs, &w13, nullptr, 1e-3f), ref_layer_norm(xs, &w13, nullptr, 1e-3), 1e-5);
  // Non-contiguous input and bf16 weight.
  Tensor xt = rnd({37, 7}, 5).transpose(0, 1);
  Tensor wb = w.to(DType::kBF16);
  EXPECT_REL_CLOSE(ops::layer_norm(xt, &wb, &b, 1e-5f), ref_layer_norm(xt.contiguous(), &wb, &b, 1e-5), 1e-5);
  Tensor wbad = rnd({36}, 6);
  EXPECT_THROW(ops::layer_norm(x, &wbad, nullptr, 1e-6f), Error);
}

TEST(OpsNorm, RmsNormLastDim) {
  Tensor x = rnd({2, 9, 128}, 7, -3.f, 3.f), w = rnd({128}, 8);
  const auto xv = as_double(x), wv = as_double(w);
  std::vector<double> ref(xv.size()), ref_nw(xv.size());
  for (int64_t r = 0; r < 18; ++r) {
    double ms = 0;
    for (int i = 0; i < 128; ++i) ms += xv[r * 128 + i] * xv[r * 128 + i];
    const double s = 1.0 / std::sqrt(ms / 128 + 1e-6);
    for (int i = 0; i < 128; ++i) {
      ref[r * 128 + i] = xv[r * 128 + i] * s * wv[i];
      ref_nw[r * 128 + i] = xv[r * 128 + i] * s;
    }
  }
  EXPECT_REL_CLOSE(ops::rms_norm(x, &w, 1e-6f), ref, 1e-5);
  EXPECT_REL_CLOSE(ops::rms_norm(x, nullptr, 1e-6f), ref_nw, 1e-5);
  Tensor wbad = rnd({127}, 6);
  EXPECT_THROW(ops::rms_norm(x, &wbad, 1e-6f), Error);
}

namespace {
// Wan VAE RMS_norm: F.normalize(x, dim) * sqrt(C) * gamma + bias; F.normalize divides by max(||x||, eps).
std::vector<double> ref_rms_dim(const Tensor& x, int dim, const Tensor* w, const Tensor* b, double eps) {
  const auto xv = as_double(x);
  const int64_t C = x.shape()[dim];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < dim; ++i) outer *= x.shape()[i];
  for (int i = dim + 1; i < x.ndim(); ++i) inner *= x.shape()[i];
  const auto wv = w ? as_double(*w) : std::vector<double>(C, 1.0);
  const auto bv = b ? as_double(*b) : std::vector<double>(C, 0.0);
  std::vector<double> y(xv.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double ss = 0;
      for (int64_t c = 0; c < C; ++c) ss += xv[(o * C + c) * inner + i] * xv[(o * C + c) * inner + i];
      const double nrm = std::max(std::sqrt(ss), eps);
      for (int64_t c = 0; c < C; ++c)
        y[(o * C + c) * inner + i] = xv[(o * C + c) * inner + i] / nrm * std::sqrt(double(C)) * wv[c] + bv[c];
    }
  return y;
}
}  // namespace

TEST(OpsNorm, RmsNormDimChannelFirst) {
  Tensor x = rnd({2, 13, 3, 5, 7}, 9), g = rnd({13, 1, 1, 1}, 10), b = rnd({13, 1, 1, 1}, 11);
  EXPECT_REL_CLOSE(ops::rms_norm_dim(x, 1, &g, &b), ref_rms_dim(x, 1, &g, &b, 1e-12), 1e-5);
  EXPECT_REL_CLOSE(ops::rms_norm_dim(x, 1, &g, nullptr), ref_rms_dim(x, 1, &g, nullptr, 1e-12), 1e-5);
  // images=True layout: gamma [C, 1, 1] on [N, C, H, W]; a large inner extent (> one block).
  Tensor x4 = rnd({1, 5, 37, 41}, 12), g4 = rnd({5, 1, 1}, 13);
  EXPECT_REL_CLOSE(ops::rms_norm_dim(x4, 1, &g4, nullptr), ref_rms_dim(x4, 1, &g4, nullptr, 1e-12), 1e-5);
  // channel_first=False: dim -1, gamma [C].
  Tensor x2 = rnd({4, 6, 19}, 14), g2 = rnd({19}, 15);
  EXPECT_REL_CLOSE(ops::rms_norm_dim(x2, -1, &g2, nullptr), ref_rms_dim(x2, 2, &g2, nullptr, 1e-12), 1e-5);
  // An all-zero column hits the eps clamp: output 0 + bias, never NaN.
  Tensor z = Tensor::zeros({1, 3, 2});
  Tensor bz = rnd({3, 1}, 16);
  Tensor yz = ops::rms_norm_dim(z, 1, nullptr, &bz);
  EXPECT_REL_CLOSE(yz, ref_rms_dim(z, 1, nullptr, &bz, 1e-12), 1e-6);
  Tensor gbad = rnd({12, 1, 1, 1}, 17);
  EXPECT_THROW(ops::rms_norm_dim(x, 1, &gbad, nullptr), Error);
  EXPECT_THROW(ops::rms_norm_dim(x, 5, nullptr, nullptr), Error);
}

TEST(OpsNorm, GroupNorm) {
  Tensor x = rnd({2, 12, 3, 7}, 18, -1.f, 2.f), w = rnd({12}, 19), b = rnd({12}, 20);
  const int G = 4;
  const auto xv = as_double(x), wv = as_double(w), bv = as_double(b);
  const int64_t S = 21, cpg = 3;
  std::vector<double> ref(xv.size());
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t g = 0; g < G; ++g) {
      const int64_t base = (n * 12 + g * cpg) * S;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < cpg * S; ++i) mean += xv[base + i];
      mean /= cpg * S;
      for (int64_t i = 0; i < cpg * S; ++i) var += (xv[base + i] - mean) * (xv[base + i] - mean);
      var /= cpg * S;
      for (int64_t c = 0; c < cpg; ++c)
        for (int64_t s = 0; s < S; ++s) {
          const int64_t i = base + c * S + s;
          ref[i] = (xv[i] - mean) / std::sqrt(var + 1e-5) * wv[g * cpg + c] + bv[g * cpg + c];
        }
    }
  EXPECT_REL_CLOSE(ops::group_norm(x, G, &w, &b, 1e-5f), ref, 1e-5);
  EXPECT_THROW(ops::group_norm(x, 5, &w, &b, 1e-5f), Error);
}
