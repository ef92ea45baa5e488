// conv3d / conv2d / upsample / pad against direct loops.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "test_ops_util.h"

using namespace wan22;
using namespace wan22::test;
using wan22::ops::PadMode;

namespace {
std::vector<double> ref_conv3d(const Tensor& x, const Tensor& w, const Tensor* bias, std::array<int, 3> st,
                               std::array<int, 6> pad, Shape* out_shape) {
  const int64_t N = x.dim(0), C = x.dim(1), T = x.dim(2), H = x.dim(3), W = x.dim(4);
  const int64_t O = w.dim(0), kt = w.dim(2), kh = w.dim(3), kw = w.dim(4);
  const int64_t To = (T + pad[0] + pad[1] - kt) / st[0] + 1, Ho = (H + pad[2] + pad[3] - kh) / st[1] + 1,
                Wo = (W + pad[4] + pad[5] - kw) / st[2] + 1;
  *out_shape = {N, O, To, Ho, Wo};
  const auto xv = as_double(x), wv = as_double(w);
  const auto bv = bias ? as_double(*bias) : std::vector<double>(O, 0.0);
  std::vector<double> y(N * O * To * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t t = 0; t < To; ++t)
        for (int64_t i = 0; i < Ho; ++i)
          for (int64_t j = 0; j < Wo; ++j) {
            double s = bv[o];
            for (int64_t c = 0; c < C; ++c)
              for (int64_t a = 0; a < kt; ++a)
                for (int64_t b = 0; b < kh; ++b)
                  for (int64_t e = 0; e < kw; ++e) {
                    const int64_t ti = t * st[0] - pad[0] + a, hi = i * st[1] - pad[2] + b, wi = j * st[2] - pad[4] + e;
                    if (ti < 0 || ti >= T || hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                    s += xv[(((n * C + c) * T + ti) * H + hi) * W + wi] * wv[(((o * C + c) * kt + a) * kh + b) * kw + e];
                  }
            y[(((n * O + o) * To + t) * Ho + i) * Wo + j] = s;
          }
  return y;
}

void check_conv3d(const Tensor& x, const Tensor& w, const Tensor* bias, std::array<int, 3> st, std::array<int, 6> pad) {
  Shape shape;
  const auto ref = ref_conv3d(x, w, bias, st, pad, &shape);
  Tensor y = ops::conv3d(x, w, bias, st, pad);
  ASSERT_EQ(y.shape(), shape);
  EXPECT_REL_CLOSE(y, ref, 1e-5);
}
}  // namespace

TEST(OpsConv, Conv3dCausalPad) {
  Tensor x = rnd({2, 5, 4, 9, 11}, 1), w = rnd({7, 5, 3, 3, 3}, 2), b = rnd({7}, 3);
  check_conv3d(x, w, &b, {1, 1, 1}, {2, 0, 1, 1, 1, 1});  // Wan CausalConv3d
  check_conv3d(x, w, nullptr, {1, 1, 1}, {0, 0, 0, 0, 0, 0});
}

TEST(OpsConv, Conv3dStridedAndAsymmetric) {
  Tensor x = rnd({1, 3, 5, 13, 10}, 4), w = rnd({6, 3, 3, 3, 3}, 5), b = rnd({6}, 6);
  check_conv3d(x, w, &b, {1, 2, 2}, {2, 0, 1, 1, 1, 1});
  check_conv3d(x, w, &b, {2, 2, 3}, {1, 0, 0, 2, 2, 1});
  Tensor w2 = rnd({4, 3, 3, 1, 1}, 7);  // time downsample conv (kernel (3,1,1), stride (2,1,1))
  check_conv3d(x, w2, nullptr, {2, 1, 1}, {0, 0, 0, 0, 0, 0});
  Tensor w3 = rnd({5, 3, 1, 1, 1}, 8);  // pointwise
  check_conv3d(x, w3, nullptr, {1, 1, 1}, {0, 0, 0, 0, 0, 0});
  Tensor b5 = rnd({5}, 9);
  check_conv3d(x, w3, &b5, {1, 1, 1}, {0, 0, 0, 0, 0, 0});
}

TEST(OpsConv, Conv3dBf16WeightAndNonContiguousInput) {
  Tensor xt = rnd({1, 4, 3, 8, 6}, 10).transpose(3, 4);  // [1,4,3,6,8] view
  Tensor w = rnd({3, 4, 3, 3, 3}, 11).to(DType::kBF16);
  check_conv3d(xt, w, nullptr, {1, 1, 1}, {2, 0, 1, 1, 1, 1});
}

TEST(OpsConv, Conv2dPadAndStride) {
  Tensor x = rnd({2, 3, 13, 9}, 12), w = rnd({5, 3, 3, 3}, 13), b = rnd({5}, 14);
  // conv2d is checked through the conv3d reference with a unit time axis.
  Shape shape;
  auto ref = ref_conv3d(x.unsqueeze(2), w.unsqueeze(2), &b, {1, 2, 2}, {0, 0, 0, 1, 0, 1}, &shape);
  Tensor y = ops::conv2d(x, w, &b, {2, 2}, {0, 1, 0, 1});  // Wan's ZeroPad2d((0,1,0,1)) + stride 2
  ASSERT_EQ(y.shape(), (Shape{2, 5, 6, 4}));  // (13+1-3)/2+1, (9+1-3)/2+1
  EXPECT_REL_CLOSE(y, ref, 1e-5);
  auto ref2 = ref_conv3d(x.unsqueeze(2), w.unsqueeze(2), nullptr, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, &shape);
  EXPECT_REL_CLOSE(ops::conv2d(x, w, nullptr, {1, 1}, {1, 1, 1, 1}), ref2, 1e-5);
}

TEST(OpsConv, BadShapesThrow) {
  Tensor x = rnd({1, 3, 4, 5, 5}, 1);
  EXPECT_THROW(ops::conv3d(x, rnd({2, 4, 3, 3, 3}, 2), nullptr, {1, 1, 1}, {0, 0, 0, 0, 0, 0}), Error);
  EXPECT_THROW(ops::conv3d(x, rnd({2, 3, 5, 3, 3}, 2), nullptr, {1, 1, 1}, {0, 0, 0, 0, 0, 0}), Error);
  EXPECT_THROW(ops::conv3d(x, rnd({2, 3, 3, 3, 3}, 2), nullptr, {0, 1, 1}, {0, 0, 0, 0, 0, 0}), Error);
  Tensor b = rnd({3}, 3);
  EXPECT_THROW(ops::conv3d(x, rnd({2, 3, 3, 3, 3}, 2), &b, {1, 1, 1}, {0, 0, 0, 0, 0, 0}), Error);
  EXPECT_THROW(ops::conv2d(rnd({1, 3, 5}, 1), rnd({2, 3, 3, 3}, 2), nullptr, {1, 1}, {0, 0, 0, 0}), Error);
}

TEST(OpsResample, UpsampleNearest) {
  Tensor x = rnd({2, 3, 5, 7}, 15);
  Tensor y = ops::upsample_nearest2d(x, 2, 3);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 10, 21}));
  const auto xv = as_double(x);
  std::vector<double> ref(y.numel());
  for (int64_t o = 0; o < 6; ++o)
    for (int64_t i = 0; i < 10; ++i)
      for (int64_t j = 0; j < 21; ++j) ref[(o * 10 + i) * 21 + j] = xv[(o * 5 + i / 2) * 7 + j / 3];
  EXPECT_REL_CLOSE(y, ref, 0);
  EXPECT_THROW(ops::upsample_nearest2d(x, 0, 2), Error);
}

TEST(OpsPad, ConstantAndReplicate) {
  Tensor x = rnd({2, 3, 4}, 16);
  const auto xv = as_double(x);
  const std::vector<int64_t> pads = {0, 1, 2, 0, 1, 3};
  const Shape out{3, 5, 8};
  for (PadMode mode : {PadMode::kConstant, PadMode::kReplicate}) {
    Tensor y = ops::pad(x, pads, mode, 0.5f);
    ASSERT_EQ(y.shape(), out);
    std::vector<double> ref(shape_numel(out));
    for (int64_t a = 0; a < 3; ++a)
      for (int64_t b = 0; b < 5; ++b)
        for (int64_t c = 0; c < 8; ++c) {
          int64_t i = a - 0, j = b - 2, k = c - 1;
          const bool in = i >= 0 && i < 2 && j >= 0 && j < 3 && k >= 0 && k < 4;
          double v;
          if (mode == PadMode::kConstant) {
            v = in ? xv[(i * 3 + j) * 4 + k] : 0.5;
          } else {
            i = std::clamp<int64_t>(i, 0, 1);
            j = std::clamp<int64_t>(j, 0, 2);
            k = std::clamp<int64_t>(k, 0, 3);
            v = xv[(i * 3 + j) * 4 + k];
          }
          ref[(a * 5 + b) * 8 + c] = v;
        }
    EXPECT_REL_CLOSE(y, ref, 0) << (mode == PadMode::kConstant ? "constant" : "replicate");
  }
  // Non-contiguous input, replicate on the last two dims only (Wan's causal cache padding pattern).
  Tensor xt = rnd({4, 3}, 17).transpose(0, 1);
  Tensor y = ops::pad(xt, {0, 0, 2, 2}, PadMode::kReplicate);
  const auto tv = as_double(xt.contiguous());
  std::vector<double> ref;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 8; ++c) ref.push_back(tv[r * 4 + std::clamp<int64_t>(c - 2, 0, 3)]);
  EXPECT_REL_CLOSE(y, ref, 0);
  EXPECT_THROW(ops::pad(x, {1, 1}, PadMode::kConstant), Error);
  EXPECT_THROW(ops::pad(x, {0, 0, 0, 0, -1, 0}, PadMode::kConstant), Error);
}
