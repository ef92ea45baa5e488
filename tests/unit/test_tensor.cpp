#include <gtest/gtest.h>

#include <atomic>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "test_util.h"

using namespace wan22;

TEST(Tensor, ViewsShareStorage) {
  Tensor t = test::random_tensor({2, 3, 4}, 1);
  Tensor p = t.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.item_f32(1 * 6 + 1 * 3 + 2), t.item_f32(1 * 12 + 2 * 4 + 1));
  Tensor c = p.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  for (int64_t i = 0; i < c.numel(); ++i) EXPECT_EQ(c.item_f32(i), p.item_f32(i));
  Tensor s = t.slice(2, 1, 4, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.item_f32(1), t.item_f32(3));
  Tensor sel = t.select(1, 2);
  EXPECT_EQ(sel.shape(), (Shape{2, 4}));
  EXPECT_EQ(sel.item_f32(4), t.item_f32(12 + 8));
  EXPECT_EQ(t.view({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_THROW(p.view({24}), Error);
  EXPECT_EQ(p.reshape({24}).numel(), 24);
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(t.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
}

TEST(Tensor, DtypeConversionRoundTrip) {
  Tensor t = test::random_tensor({17, 5}, 2, -4.f, 4.f);
  Tensor b = t.to(DType::kBF16);
  EXPECT_EQ(b.dtype(), DType::kBF16);
  Tensor back = b.to(DType::kF32);
  for (int64_t i = 0; i < t.numel(); ++i) {
    EXPECT_EQ(back.item_f32(i), bf16_to_f32(f32_to_bf16(t.item_f32(i))));
  }
  Tensor strided = t.transpose(0, 1).to(DType::kF16);
  EXPECT_EQ(strided.shape(), (Shape{5, 17}));
  EXPECT_EQ(strided.item_f32(17 + 3), f16_to_f32(f32_to_f16(t.item_f32(3 * 5 + 1))));
}

TEST(Tensor, BadShapesThrow) {
  EXPECT_THROW(Tensor::empty({-1, 3}), Error);
  EXPECT_THROW(Tensor::empty({INT64_MAX, 4}), Error);
  Tensor t = Tensor::zeros({2, 2});
  EXPECT_THROW(t.dim(2), Error);
  EXPECT_THROW(t.data<double>(), Error);
}

TEST(ThreadPool, CoversRangeOnceAndPropagatesErrors) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(1000, 7, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_THROW(pool.parallel_for(100, 1, [](int64_t b, int64_t) {
    if (b > 0) throw std::runtime_error("boom");
  }), std::runtime_error);
  // Nested calls run inline.
  std::atomic<int> total{0};
  pool.parallel_for(8, 1, [&](int64_t b, int64_t e) {
    pool.parallel_for(10, 1, [&](int64_t b2, int64_t e2) { total += static_cast<int>((e - b) * (e2 - b2)); });
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPool, CompactAffinityPins) {
  ThreadPool pool(2, Affinity::kCompact);
  ASSERT_EQ(pool.pinned_cpus().size(), 1u);
  EXPECT_GE(pool.pinned_cpus()[0], 0);
}
