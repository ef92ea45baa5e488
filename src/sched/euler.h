// Plain flow-matching Euler: x_i = x_{i-1} + (sigma_{i+1} - sigma_i) * v, on the schedule of
// get_sampling_sigmas(steps, shift) (the DPM++ schedule; starts at sigma 1, t = 1000).
#pragma once
#include "sched/scheduler.h"

namespace wan22::sched {

class EulerScheduler final : public Scheduler {
 public:
  explicit EulerScheduler(int num_train_timesteps = 1000) : Scheduler(num_train_timesteps) {}
  const char* name() const override { return "euler"; }

 protected:
  std::vector<double> make_sigmas(int num_steps, double shift) const override;
  void reset_state() override {}
  Tensor do_step(const Tensor& model_output, int step_index, const Tensor& sample) override;
};

}  // namespace wan22::sched
