// Flow-matching solvers of the Wan2.2 pipelines (official wan/utils/fm_solvers*.py).
//
// Usage (one denoising loop):
//   auto sched = sched::make_scheduler("unipc");
//   sched->set_timesteps(steps, shift);
//   for (int i = 0; i < sched->num_steps(); ++i) {
//     Tensor v = model(x, sched->timesteps()[i]);   // flow prediction (velocity)
//     x = sched->step(v, i, x);
//   }
// The model sees the reference's timesteps (integers, sigma * 1000 truncated, as int64 in the
// reference); sigmas() has num_steps + 1 entries ending in 0, rounded to float32 like the reference.
//
// Each update is host-side coefficient math (float32, as the reference's 0-d tensors) plus one
// LinProgram over the model output, the sample and the solver's history, run by the scheduler's
// StepExecutor (sched/step_executor.h): the CPU by default, or a device executor, in which case
// the inputs, the history and the result stay on that device.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "sched/step_executor.h"

namespace wan22::sched {

class Scheduler {
 public:
  explicit Scheduler(int num_train_timesteps = 1000);
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  virtual const char* name() const = 0;  // "unipc", "dpm++", "euler"

  // Where the updates run (default: cpu_executor()). Resets the solver state; `exec` must outlive
  // the scheduler's use of it.
  void set_executor(StepExecutor& exec);
  StepExecutor& executor() const { return *exec_; }

  // Builds the schedule and resets all solver state. Throws Error(kInvalidArgument) unless
  // num_steps >= 1 and shift is finite and > 0.
  void set_timesteps(int num_steps, double shift);

  int num_steps() const { return static_cast<int>(timesteps_.size()); }
  double shift() const { return shift_; }
  int num_train_timesteps() const { return num_train_timesteps_; }
  // Values passed to the model, one per step.
  const std::vector<double>& timesteps() const { return timesteps_; }
  // num_steps + 1 values (float32-exact), the last one 0.
  const std::vector<double>& sigmas() const { return sigmas_; }

  // One solver update: returns x_i from x_{i-1} = sample and the model's flow prediction at
  // timesteps()[step_index]. Steps run in order; the first call after set_timesteps may start
  // at any index (like the reference's begin_index). Inputs: tensors of the same shape on the
  // executor's device (CPU: any float dtype, computed in float32; other devices: float32
  // contiguous); the result is a new float32 contiguous tensor there. The inputs are not kept.
  Tensor step(const Tensor& model_output, int step_index, const Tensor& sample);

 protected:
  // The solver's sigma schedule (num_steps values, before the final 0), in float64.
  virtual std::vector<double> make_sigmas(int num_steps, double shift) const = 0;
  virtual void reset_state() = 0;
  // model_output and sample: float32, contiguous, same shape, on the executor's device.
  virtual Tensor do_step(const Tensor& model_output, int step_index, const Tensor& sample) = 0;

  float sigma_f32(int i) const { return sigmas_f32_[static_cast<size_t>(i)]; }

 private:
  int num_train_timesteps_;
  double shift_ = 0.0;
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
  std::vector<float> sigmas_f32_;
  int next_step_ = -1;  // -1: no step taken since set_timesteps
  StepExecutor* exec_ = &cpu_executor();
};

// name: "unipc", "dpm++" (also "dpmpp"), "euler". Throws Error(kInvalidArgument) otherwise.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, int num_train_timesteps = 1000);
// The names make_scheduler accepts (canonical spellings).
std::vector<std::string> scheduler_names();

}  // namespace wan22::sched
