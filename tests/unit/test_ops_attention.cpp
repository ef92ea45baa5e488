// Attention against a naive double-precision softmax(q k^T * scale + bias) v.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "test_ops_util.h"

using namespace wan22;
using namespace wan22::test;

namespace {
std::vector<double> ref_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                  const Tensor* bias, const std::vector<int64_t>& k_lens) {
  const int64_t B = q.dim(0), Lq = q.dim(1), H = q.dim(2), D = q.dim(3), Lk = k.dim(1);
  const auto qv = as_double(q), kv = as_double(k), vv = as_double(v);
  const auto bv = bias ? as_double(*bias) : std::vector<double>();
  const int64_t bb = bias ? bias->dim(0) : 0;
  std::vector<double> out(B * Lq * H * D, 0.0), s(Lk);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t kl = k_lens.empty() ? Lk : k_lens[b];
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Lq; ++i) {
        double mx = -1e300;
        for (int64_t j = 0; j < kl; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += qv[((b * Lq + i) * H + h) * D + d] * kv[((b * Lk + j) * H + h) * D + d];
          s[j] = dot * scale;
          if (bias) s[j] += bv[(((bb == 1 ? 0 : b) * H + h) * Lq + i) * Lk + j];
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < kl; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int64_t j = 0; j < kl; ++j)
          for (int64_t d = 0; d < D; ++d)
            out[((b * Lq + i) * H + h) * D + d] += s[j] / sum * vv[((b * Lk + j) * H + h) * D + d];
      }
  }
  return out;
}
}  // namespace

TEST(OpsAttention, SelfAttentionDefaultScale) {
  Tensor q = rnd({2, 37, 3, 16}, 1), k = rnd({2, 37, 3, 16}, 2), v = rnd({2, 37, 3, 16}, 3);
  Tensor o = ops::attention(q, k, v);
  EXPECT_EQ(o.shape(), q.shape());
  EXPECT_REL_CLOSE(o, ref_attention(q, k, v, 0.25, nullptr, {}), 1e-5);
}

TEST(OpsAttention, CrossAttentionLqNeLkWithKLens) {
  Tensor q = rnd({2, 70, 2, 24}, 4, -2.f, 2.f), k = rnd({2, 13, 2, 24}, 5, -2.f, 2.f), v = rnd({2, 13, 2, 24}, 6);
  ops::AttentionOptions opt;
  opt.k_lens = {13, 5};
  Tensor o = ops::attention(q, k, v, opt);
  EXPECT_REL_CLOSE(o, ref_attention(q, k, v, 1 / std::sqrt(24.0), nullptr, opt.k_lens), 1e-5);
  // The mask really matters.
  EXPECT_GT(rel_err(o, ops::attention(q, k, v)), 1e-3);
}

TEST(OpsAttention, T5StyleBiasScaleOne) {
  Tensor q = rnd({2, 9, 4, 8}, 7), k = rnd({2, 11, 4, 8}, 8), v = rnd({2, 11, 4, 8}, 9);
  Tensor bias1 = rnd({1, 4, 9, 11}, 10, -3.f, 3.f), bias2 = rnd({2, 4, 9, 11}, 11, -3.f, 3.f);
  ops::AttentionOptions opt;
  opt.scale = 1.0f;
  opt.bias = &bias1;
  EXPECT_REL_CLOSE(ops::attention(q, k, v, opt), ref_attention(q, k, v, 1.0, &bias1, {}), 1e-5);
  opt.bias = &bias2;
  opt.k_lens = {11, 7};
  EXPECT_REL_CLOSE(ops::attention(q, k, v, opt), ref_attention(q, k, v, 1.0, &bias2, opt.k_lens), 1e-5);
}

TEST(OpsAttention, LongSequenceTilingAndHeadSlices) {
  // 1000 keys and 150 queries span several key and query tiles.
  Tensor q = rnd({1, 150, 5, 32}, 12, -3.f, 3.f), k = rnd({1, 1000, 5, 32}, 13, -3.f, 3.f),
         v = rnd({1, 1000, 5, 32}, 14);
  const auto ref = ref_attention(q, k, v, 1 / std::sqrt(32.0), nullptr, {});
  Tensor o = ops::attention(q, k, v);
  EXPECT_REL_CLOSE(o, ref, 1e-5);
  for (int hs : {1, 2, 5, 7}) {
    ops::AttentionOptions opt;
    opt.head_slice = hs;
    EXPECT_REL_CLOSE(ops::attention(q, k, v, opt), ref, 1e-5) << "head_slice " << hs;
  }
  ops::AttentionOptions opt;
  opt.k_lens = {777};
  EXPECT_REL_CLOSE(ops::attention(q, k, v, opt), ref_attention(q, k, v, 1 / std::sqrt(32.0), nullptr, {777}), 1e-5);
}

TEST(OpsAttention, NonContiguousAndBf16Inputs) {
  // q/k/v as slices of a fused [B, L, 3, H, D] projection, like a qkv linear output.
  Tensor qkv = rnd({2, 21, 3, 2, 8}, 15);
  Tensor q = qkv.select(2, 0), k = qkv.select(2, 1), v = qkv.select(2, 2).to(DType::kBF16);
  ASSERT_FALSE(q.is_contiguous());
  EXPECT_REL_CLOSE(ops::attention(q, k, v),
                   ref_attention(q.contiguous(), k.contiguous(), v, 1 / std::sqrt(8.0), nullptr, {}), 1e-5);
}

TEST(OpsAttention, BadShapesThrow) {
  Tensor q = rnd({2, 5, 3, 8}, 1), k = rnd({2, 6, 3, 8}, 2), v = rnd({2, 6, 3, 8}, 3);
  EXPECT_THROW(ops::attention(q, rnd({2, 6, 3, 4}, 4), rnd({2, 6, 3, 4}, 5)), Error);
  EXPECT_THROW(ops::attention(q, k, rnd({2, 7, 3, 8}, 6)), Error);
  EXPECT_THROW(ops::attention(rnd({2, 5, 24}, 7), k, v), Error);
  ops::AttentionOptions opt;
  opt.k_lens = {1, 2, 3};
  EXPECT_THROW(ops::attention(q, k, v, opt), Error);
  Tensor bad_bias = rnd({1, 3, 5, 5}, 8);
  ops::AttentionOptions opt2;
  opt2.bias = &bad_bias;
  EXPECT_THROW(ops::attention(q, k, v, opt2), Error);
}

TEST(OpsAttention, T5MaskAsFinfoMinBiasEqualsKLens) {
  // T5 masks padded keys by adding finfo(f32).min to the position bias; that must equal k_lens.
  Tensor q = rnd({2, 6, 2, 8}, 16), k = rnd({2, 10, 2, 8}, 17), v = rnd({2, 10, 2, 8}, 18);
  Tensor pos = rnd({1, 2, 6, 10}, 19, -2.f, 2.f);
  const std::vector<int64_t> lens = {10, 4};
  Tensor masked = Tensor::empty({2, 2, 6, 10});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 2 * 6 * 10; ++i)
      masked.data<float>()[b * 120 + i] = pos.data<float>()[i] + ((i % 10) >= lens[b] ? -3.4028234663852886e38f : 0.f);
  ops::AttentionOptions a, b;
  a.scale = b.scale = 1.0f;
  a.bias = &masked;
  b.bias = &pos;
  b.k_lens = lens;
  Tensor oa = ops::attention(q, k, v, a), ob = ops::attention(q, k, v, b);
  EXPECT_LE(rel_err(oa, ob), 1e-6);
  EXPECT_REL_CLOSE(ob, ref_attention(q, k, v, 1.0, &pos, lens), 1e-5);
}

TEST(OpsAttention, ZeroKeyLengthGivesZeros) {
  Tensor q = rnd({2, 3, 1, 4}, 20), k = rnd({2, 5, 1, 4}, 21), v = rnd({2, 5, 1, 4}, 22);
  ops::AttentionOptions opt;
  opt.k_lens = {0, 5};
  Tensor o = ops::attention(q, k, v, opt);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(o.item_f32(i), 0.f);
  EXPECT_REL_CLOSE(o.narrow(0, 1, 1), ref_attention(q.narrow(0, 1, 1), k.narrow(0, 1, 1), v.narrow(0, 1, 1), 0.5, nullptr, {}), 1e-5);
}
