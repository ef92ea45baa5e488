// UniPC for flow matching: FlowUniPCMultistepScheduler as the Wan2.2 pipelines build it
// (solver_order 2, predict_x0, solver_type bh2, lower_order_final, no dynamic shifting, final sigma
// 0, shift 1 in the constructor and `shift` passed to set_timesteps). Each step first corrects the
// incoming sample with UniC (from the second step on), then predicts the next one with UniP.
#pragma once
#include "sched/lin_program.h"
#include "sched/scheduler.h"

namespace wan22::sched {

class UniPCScheduler final : public Scheduler {
 public:
  explicit UniPCScheduler(int num_train_timesteps = 1000) : Scheduler(num_train_timesteps) {}
  const char* name() const override { return "unipc"; }

 protected:
  std::vector<double> make_sigmas(int num_steps, double shift) const override;
  void reset_state() override;
  Tensor do_step(const Tensor& model_output, int step_index, const Tensor& sample) override;

 private:
  using Reg = LinProgram::Reg;
  // UniC: the corrected sample at sigma[i], recomputed from last_sample (at sigma[i-1]) with the
  // new x0 prediction this_x0 and the history m0 = model_outputs[-1], m1 = model_outputs[-2]
  // (the predicted sample itself does not enter the bh formula); order is the UniP order of the
  // previous step (m1 is used from order 2 on).
  Reg correct(LinProgram& p, Reg this_x0, Reg last_sample, Reg m0, Reg m1, int step_index, int order) const;
  // UniP (B(h) = expm1(-h)): from sample at sigma[i] to sigma[i+1], with m0 the newest x0
  // prediction and m1 the one before (order 2).
  Reg predict(LinProgram& p, Reg sample, Reg m0, Reg m1, int step_index, int order) const;

  Tensor m_last_;       // model_outputs[-1]: x0 prediction of the latest step
  Tensor m_prev_;       // model_outputs[-2]
  Tensor last_sample_;  // the (corrected) sample the latest predictor started from
  int lower_order_nums_ = 0;
  int this_order_ = 0;
};

}  // namespace wan22::sched
