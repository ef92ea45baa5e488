#include "sched/euler.h"

#include "sched/sigma_schedule.h"

#include "sched/no_fp_contract.h"

namespace wan22::sched {

std::vector<double> EulerScheduler::make_sigmas(int num_steps, double shift) const {
  return sampling_sigmas(num_steps, shift);
}

Tensor EulerScheduler::do_step(const Tensor& model_output, int step_index, const Tensor& sample) {
  const float dt = sigma_f32(step_index + 1) - sigma_f32(step_index);
  LinProgram p;
  const auto v = p.add_input(), x = p.add_input();
  p.output(p.lin(1.0f, x, dt, v));  // x + dt * v
  return executor().run(p, {model_output, sample})[0];
}

}  // namespace wan22::sched
