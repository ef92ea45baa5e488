#include "sched/euler.h"

#include "sched/elementwise.h"
#include "sched/sigma_schedule.h"

#include "sched/no_fp_contract.h"

namespace wan22::sched {

std::vector<double> EulerScheduler::make_sigmas(int num_steps, double shift) const {
  return sampling_sigmas(num_steps, shift);
}

Tensor EulerScheduler::do_step(const Tensor& model_output, int step_index, const Tensor& sample) {
  const float dt = sigma_f32(step_index + 1) - sigma_f32(step_index);
  Tensor out = empty_like_f32(sample);
  const float* v = model_output.data<float>();
  const float* x = sample.data<float>();
  float* y = out.data<float>();
  for_each_chunk(out.numel(), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const float delta = dt * v[k];
      y[k] = x[k] + delta;
    }
  });
  return out;
}

}  // namespace wan22::sched
