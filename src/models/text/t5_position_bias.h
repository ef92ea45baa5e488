// T5 relative position buckets and the additive attention bias built from them
// (T5RelativeEmbedding of the official t5.py; the same as transformers' _relative_position_bucket).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace wan22::models::text {

// Bucket of relative position rel = key_pos - query_pos. Bidirectional (the encoder): half of the
// buckets for rel > 0. Exact buckets below max_exact = buckets/2 (of the half), logarithmic ones up to
// max_distance, clamped to the last bucket. Computed in float32 in the same order as the reference
// (log(rel / max_exact) / log(max_distance / max_exact) * (n - max_exact), truncated).
int64_t relative_position_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance);

// Bucket index of every (query i, key j) pair for lq queries and lk keys: [lq * lk] row-major.
std::vector<int32_t> relative_position_buckets(int64_t lq, int64_t lk, bool bidirectional, int64_t num_buckets,
                                               int64_t max_distance);

// Bias [1, H, lq, lk] from an embedding table [num_buckets, H] (any float dtype) and the buckets.
Tensor position_bias(const Tensor& table, const std::vector<int32_t>& buckets, int64_t lq, int64_t lk);

}  // namespace wan22::models::text
