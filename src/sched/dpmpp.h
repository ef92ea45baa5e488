// DPM-Solver++ 2M for flow matching: FlowDPMSolverMultistepScheduler as the Wan2.2 pipelines build
// it (algorithm dpmsolver++, solver_order 2, solver_type midpoint, lower_order_final, final sigma
// 0, shift 1 in the constructor) on the sigmas of get_sampling_sigmas(steps, shift).
#pragma once
#include "sched/scheduler.h"

namespace wan22::sched {

class DPMPPScheduler final : public Scheduler {
 public:
  explicit DPMPPScheduler(int num_train_timesteps = 1000) : Scheduler(num_train_timesteps) {}
  const char* name() const override { return "dpm++"; }

 protected:
  std::vector<double> make_sigmas(int num_steps, double shift) const override;
  void reset_state() override;
  Tensor do_step(const Tensor& model_output, int step_index, const Tensor& sample) override;

 private:
  Tensor prev_x0_;           // converted model output (x0 prediction) of the previous step
  int lower_order_nums_ = 0;  // steps taken so far, capped at the solver order (2)
};

}  // namespace wan22::sched
