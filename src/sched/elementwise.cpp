#include "sched/elementwise.h"

#include "core/thread_pool.h"

namespace wan22::sched {

namespace {
constexpr int64_t kGrain = 1 << 15;  // elements per chunk at least; the solvers are memory bound
}

void for_each_chunk(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (n <= kGrain) {
    fn(0, n);
    return;
  }
  parallel_for(0, n, kGrain, fn);
}

Tensor empty_like_f32(const Tensor& like) { return Tensor::empty(like.shape(), DType::kF32); }

}  // namespace wan22::sched
