#include "models/text/t5_position_bias.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/status.h"

namespace wan22::models::text {

int64_t relative_position_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance) {
  int64_t n = num_buckets;
  int64_t bucket = 0;
  if (bidirectional) {
    n = num_buckets / 2;
    if (rel > 0) bucket += n;
    rel = std::llabs(rel);
  } else {
    rel = rel < 0 ? -rel : 0;
  }
  const int64_t max_exact = n / 2;
  if (rel < max_exact) return bucket + rel;
  // float32 throughout, like torch on a float tensor with Python scalars.
  const float ratio = static_cast<float>(rel) / static_cast<float>(max_exact);
  const float log_range = static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const float scaled = std::log(ratio) / log_range * static_cast<float>(n - max_exact);
  int64_t large = max_exact + static_cast<int64_t>(scaled);  // .long() truncates toward zero
  large = std::min(large, n - 1);
  return bucket + large;
}

std::vector<int32_t> relative_position_buckets(int64_t lq, int64_t lk, bool bidirectional, int64_t num_buckets,
                                               int64_t max_distance) {
  WAN22_CHECK(lq > 0 && lk > 0, "relative_position_buckets: empty sequence");
  // The bucket depends only on j - i: compute each distinct offset once.
  std::vector<int32_t> by_offset(static_cast<size_t>(lq + lk - 1));
  for (int64_t d = -(lq - 1); d <= lk - 1; ++d) {
    by_offset[static_cast<size_t>(d + lq - 1)] =
        static_cast<int32_t>(relative_position_bucket(d, bidirectional, num_buckets, max_distance));
  }
  std::vector<int32_t> out(static_cast<size_t>(lq * lk));
  for (int64_t i = 0; i < lq; ++i) {
    for (int64_t j = 0; j < lk; ++j) out[static_cast<size_t>(i * lk + j)] = by_offset[static_cast<size_t>(j - i + lq - 1)];
  }
  return out;
}

Tensor position_bias(const Tensor& table, const std::vector<int32_t>& buckets, int64_t lq, int64_t lk) {
  WAN22_CHECK(table.ndim() == 2, "position_bias: table must be [num_buckets, heads], got " + shape_str(table.shape()));
  WAN22_CHECK(static_cast<int64_t>(buckets.size()) == lq * lk, "position_bias: bucket count does not match lq*lk");
  const int64_t nb = table.dim(0);
  const int64_t heads = table.dim(1);
  Tensor t = table.to(DType::kF32).contiguous();
  const float* tp = t.data<float>();
  Tensor bias = Tensor::empty({1, heads, lq, lk});
  float* bp = bias.data<float>();
  const int64_t plane = lq * lk;
  for (int64_t p = 0; p < plane; ++p) {
    const int64_t b = buckets[static_cast<size_t>(p)];
    WAN22_CHECK(b >= 0 && b < nb, "position_bias: bucket out of range of the embedding table");
    for (int64_t h = 0; h < heads; ++h) bp[h * plane + p] = tp[b * heads + h];
  }
  return bias;
}

}  // namespace wan22::models::text
