// Shape ops: concat, split, chunk, permute, repeat_interleave, embedding.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "test_ops_util.h"

using namespace wan22;
using namespace wan22::test;

TEST(OpsShape, ConcatAnyDim) {
  Tensor a = rnd({2, 3, 4}, 1), b = rnd({2, 5, 4}, 2).to(DType::kBF16), c = rnd({4, 2, 3}, 3).permute({1, 2, 0});
  Tensor y = ops::concat({a, b, c}, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 11, 4}));
  const auto av = as_double(a), bv = as_double(b), cv = as_double(c.contiguous());
  std::vector<double> ref;
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 12; ++j) ref.push_back(av[i * 12 + j]);
    for (int64_t j = 0; j < 20; ++j) ref.push_back(bv[i * 20 + j]);
    for (int64_t j = 0; j < 12; ++j) ref.push_back(cv[i * 12 + j]);
  }
  EXPECT_REL_CLOSE(y, ref, 0);
  Tensor y0 = ops::concat({a, a}, 0);
  ASSERT_EQ(y0.shape(), (Shape{4, 3, 4}));
  std::vector<double> ref0(av);
  ref0.insert(ref0.end(), av.begin(), av.end());
  EXPECT_REL_CLOSE(y0, ref0, 0);
  Tensor yl = ops::concat({a, rnd({2, 3, 1}, 4)}, -1);
  EXPECT_EQ(yl.shape(), (Shape{2, 3, 5}));
  EXPECT_THROW(ops::concat({a, rnd({2, 3, 5}, 5)}, 1), Error);
  EXPECT_THROW(ops::concat({}, 0), Error);
}

TEST(OpsShape, SplitAndChunkAreViews) {
  Tensor x = rnd({3, 10, 2}, 6);
  auto parts = ops::split(x, {3, 7}, 1);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].shape(), (Shape{3, 3, 2}));
  EXPECT_EQ(parts[1].shape(), (Shape{3, 7, 2}));
  EXPECT_EQ(parts[1].storage(), x.storage());
  EXPECT_EQ(parts[1].item_f32(0), x.item_f32(6));
  EXPECT_THROW(ops::split(x, {3, 6}, 1), Error);
  auto ch = ops::chunk(x, 3, 1);  // torch.chunk(10, 3) -> 4, 4, 2
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0].dim(1), 4);
  EXPECT_EQ(ch[2].dim(1), 2);
  EXPECT_EQ(ch[2].item_f32(0), x.item_f32(16));
  auto ch6 = ops::chunk(x, 6, 2);  // size-2 dim into 6 -> two chunks of 1
  EXPECT_EQ(ch6.size(), 2u);
  EXPECT_EQ(ops::chunk(x, 2, 0).size(), 2u);  // 3 -> 2, 1
  EXPECT_THROW(ops::chunk(x, 0, 0), Error);
}

TEST(OpsShape, PermuteCopies) {
  Tensor x = rnd({2, 3, 5, 7}, 7);
  Tensor y = ops::permute(x, {2, 0, 3, 1});
  ASSERT_EQ(y.shape(), (Shape{5, 2, 7, 3}));
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_NE(y.storage(), x.storage());
  EXPECT_REL_CLOSE(y, as_double(x.permute({2, 0, 3, 1}).contiguous()), 0);
  Tensor id = ops::permute(x, {0, 1, 2, 3});
  EXPECT_NE(id.storage(), x.storage());
  EXPECT_THROW(ops::permute(x, {0, 1, 2}), Error);
}

TEST(OpsShape, RepeatInterleave) {
  Tensor x = rnd({2, 3, 4}, 8);
  Tensor y = ops::repeat_interleave(x, 3, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 9, 4}));
  const auto xv = as_double(x);
  std::vector<double> ref;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 9; ++b)
      for (int64_t c = 0; c < 4; ++c) ref.push_back(xv[(a * 3 + b / 3) * 4 + c]);
  EXPECT_REL_CLOSE(y, ref, 0);
  Tensor z = ops::repeat_interleave(x, 2, -1);
  EXPECT_EQ(z.shape(), (Shape{2, 3, 8}));
  EXPECT_EQ(z.item_f32(1), x.item_f32(0));
  EXPECT_EQ(z.item_f32(2), x.item_f32(1));
}

TEST(OpsShape, Embedding) {
  Tensor table = rnd({11, 6}, 9).to(DType::kBF16);
  Tensor ids = Tensor::empty({2, 3}, DType::kI64);
  const int64_t idv[6] = {0, 10, 3, 3, 7, 1};
  for (int i = 0; i < 6; ++i) ids.data<int64_t>()[i] = idv[i];
  Tensor y = ops::embedding(ids, table);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 6}));
  const auto tv = as_double(table);
  std::vector<double> ref;
  for (int64_t id : idv)
    for (int d = 0; d < 6; ++d) ref.push_back(tv[id * 6 + d]);
  EXPECT_REL_CLOSE(y, ref, 0);
  Tensor ids32 = Tensor::empty({3}, DType::kI32);
  ids32.data<int32_t>()[0] = 2;
  ids32.data<int32_t>()[1] = 0;
  ids32.data<int32_t>()[2] = 11;
  EXPECT_THROW(ops::embedding(ids32, table), Error);  // 11 out of range
  ids32.data<int32_t>()[2] = 5;
  EXPECT_EQ(ops::embedding(ids32, table).item_f32(6 * 2 + 1), table.item_f32(5 * 6 + 1));
  EXPECT_THROW(ops::embedding(rnd({3}, 1), table), Error);  // float ids
}
