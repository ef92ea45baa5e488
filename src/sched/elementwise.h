// Small helpers for the solvers' elementwise float32 loops.
#pragma once
#include <cstdint>
#include <functional>

#include "core/tensor.h"

namespace wan22::sched {

// Runs fn(begin, end) over [0, n) in chunks on the default thread pool.
void for_each_chunk(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

// A new float32 contiguous CPU tensor of `like`'s shape.
Tensor empty_like_f32(const Tensor& like);

}  // namespace wan22::sched
