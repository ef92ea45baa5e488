#include "sched/dpmpp.h"

#include <cmath>

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
  // The final step is always first order (final_sigmas_type "zero"), as is the first.
  const bool final_step = step_index == num_steps() - 1;
  const bool first_order = lower_order_nums_ < 1 || final_step || !prev_x0_.defined();

  const float sigma_s0 = sigma_f32(step_index);
  const float sigma_t = sigma_f32(step_index + 1);
  const float alpha_t = 1.0f - sigma_t;
  const float lambda_t = flow_lambda(sigma_t);
  const float lambda_s0 = flow_lambda(sigma_s0);
  const float h = lambda_t - lambda_s0;
  const float ratio = sigma_t / sigma_s0;
  const float coef = alpha_t * (std::exp(-h) - 1.0f);

  LinProgram p;
  std::vector<Tensor> in = {model_output, sample};
  const auto v = p.add_input(), x = p.add_input();
  const auto m1 = first_order ? -1 : p.add_input();
  if (!first_order) in.push_back(prev_x0_);

  // convert_model_output: x0 = sample - sigma_s0 * v.
  const auto x0 = p.lin(1.0f, x, -sigma_s0, v);
  // x_t = (sigma_t / sigma_s) * x - alpha_t * (exp(-h) - 1) * x0
  const auto first = p.lin(ratio, x, -coef, x0);
  if (first_order) {
    p.output(first);
  } else {
    // Midpoint 2M: D1 = (1 / r0) * (m0 - m1), x_t = first-order - 0.5 * coef * D1.
    const float lambda_s1 = flow_lambda(sigma_f32(step_index - 1));
    const float h_0 = lambda_s0 - lambda_s1;
    const float r0 = h_0 / h;
    const float inv_r0 = 1.0f / r0;
    const float half_coef = 0.5f * coef;
    const auto d1 = p.scale(inv_r0, p.sub(x0, m1));
    p.output(p.lin(1.0f, first, -half_coef, d1));
  }
  p.output(x0);

  std::vector<Tensor> out = executor().run(p, in);
  prev_x0_ = out[1];
  if (lower_order_nums_ < kSolverOrder) ++lower_order_nums_;
  return out[0];
}

}  // namespace wan22::sched
