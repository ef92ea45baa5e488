#include "sched/dpmpp.h"

#include <cmath>

#include "sched/elementwise.h"
#include "sched/sigma_schedule.h"
#include "sched/solver_math.h"

#include "sched/no_fp_contract.h"

namespace wan22::sched {

namespace {
constexpr int kSolverOrder = 2;
}

std::vector<double> DPMPPScheduler::make_sigmas(int num_steps, double shift) const {
  // get_sampling_sigmas(steps, shift) passed as set_timesteps(sigmas=...): the scheduler's own
  // shift (1) leaves them unchanged.
  return sampling_sigmas(num_steps, shift);
}

void DPMPPScheduler::reset_state() {
  prev_x0_ = Tensor();
  lower_order_nums_ = 0;
}

Tensor DPMPPScheduler::do_step(const Tensor& model_output, int step_index, const Tensor& sample) {
  const int64_t n = sample.numel();
  const float* v = model_output.data<float>();
  const float* x = sample.data<float>();

  // convert_model_output: x0 = sample - sigma_s0 * v.
  const float sigma_s0 = sigma_f32(step_index);
  Tensor x0 = empty_like_f32(sample);
  float* x0p = x0.data<float>();
  for_each_chunk(n, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const float sv = sigma_s0 * v[k];
      x0p[k] = x[k] - sv;
    }
  });

  // The final step is always first order (final_sigmas_type "zero"), as is the first.
  const bool final_step = step_index == num_steps() - 1;
  const bool first_order = lower_order_nums_ < 1 || final_step || !prev_x0_.defined();

  const float sigma_t = sigma_f32(step_index + 1);
  const float alpha_t = 1.0f - sigma_t;
  const float lambda_t = flow_lambda(sigma_t);
  const float lambda_s0 = flow_lambda(sigma_s0);
  const float h = lambda_t - lambda_s0;
  const float ratio = sigma_t / sigma_s0;
  const float coef = alpha_t * (std::exp(-h) - 1.0f);

  Tensor out = empty_like_f32(sample);
  float* y = out.data<float>();
  if (first_order) {
    // x_t = (sigma_t / sigma_s) * x - alpha_t * (exp(-h) - 1) * x0
    for_each_chunk(n, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const float kept = ratio * x[k];
        const float pred = coef * x0p[k];
        y[k] = kept - pred;
      }
    });
  } else {
    // Midpoint 2M: D1 = (1 / r0) * (m0 - m1), x_t = first-order - 0.5 * coef * D1.
    const float lambda_s1 = flow_lambda(sigma_f32(step_index - 1));
    const float h_0 = lambda_s0 - lambda_s1;
    const float r0 = h_0 / h;
    const float inv_r0 = 1.0f / r0;
    const float half_coef = 0.5f * coef;
    const float* m1 = prev_x0_.data<float>();
    for_each_chunk(n, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const float diff = x0p[k] - m1[k];
        const float d1 = inv_r0 * diff;
        const float kept = ratio * x[k];
        const float pred = coef * x0p[k];
        const float corr = half_coef * d1;
        y[k] = (kept - pred) - corr;
      }
    });
  }

  prev_x0_ = x0;
  if (lower_order_nums_ < kSolverOrder) ++lower_order_nums_;
  return out;
}

}  // namespace wan22::sched
