#include "sched/scheduler.h"

#include <cmath>
#include <sstream>

#include "sched/dpmpp.h"
#include "sched/euler.h"
#include "sched/sigma_schedule.h"
#include "sched/unipc.h"

namespace wan22::sched {

namespace {

[[noreturn]] void invalid(const std::string& msg) { throw_error(ErrorCode::kInvalidArgument, msg); }

// A float32 contiguous version of t on the executor's device (t itself when it already is one);
// CPU tensors of other float dtypes are converted.
Tensor as_f32(const Tensor& t, const StepExecutor& exec, const char* solver, const char* what) {
  if (!t.defined()) invalid(std::string(solver) + " step: " + what + " is undefined");
  if (t.device() != exec.device()) {
    invalid(std::string(solver) + " step: " + what + " must be a tensor on " + exec.device().str() + " (the " +
            exec.name() + " executor), got " + t.str());
  }
  if (t.device().is_cpu()) return t.to(DType::kF32);
  if (t.dtype() != DType::kF32 || !t.is_contiguous()) {
    invalid(std::string(solver) + " step: " + what + " must be float32 and contiguous on " + exec.device().str() +
            ", got " + t.str());
  }
  return t;
}

}  // namespace

Scheduler::Scheduler(int num_train_timesteps) : num_train_timesteps_(num_train_timesteps) {
  if (num_train_timesteps < 1) {
    invalid("scheduler: num_train_timesteps must be >= 1, got " + std::to_string(num_train_timesteps));
  }
}

void Scheduler::set_executor(StepExecutor& exec) {
  exec_ = &exec;
  next_step_ = -1;
  reset_state();
}

void Scheduler::set_timesteps(int num_steps, double shift) {
  if (num_steps < 1) {
    invalid(std::string(name()) + " set_timesteps: num_steps must be >= 1, got " +
            std::to_string(num_steps));
  }
  if (!std::isfinite(shift) || !(shift > 0.0)) {
    std::ostringstream os;
    os << name() << " set_timesteps: shift must be a finite value > 0, got " << shift;
    invalid(os.str());
  }
  std::vector<double> sig = make_sigmas(num_steps, shift);
  timesteps_ = sigmas_to_timesteps(sig, num_train_timesteps_);
  sigmas_.clear();
  sigmas_f32_.clear();
  sig.push_back(0.0);  // final_sigmas_type "zero"
  for (double s : sig) {
    const float f = static_cast<float>(s);
    sigmas_f32_.push_back(f);
    sigmas_.push_back(static_cast<double>(f));
  }
  shift_ = shift;
  next_step_ = -1;
  reset_state();
}

Tensor Scheduler::step(const Tensor& model_output, int step_index, const Tensor& sample) {
  const std::string who = name();
  if (timesteps_.empty()) invalid(who + " step: call set_timesteps first");
  if (step_index < 0 || step_index >= num_steps()) {
    invalid(who + " step: step_index " + std::to_string(step_index) + " is outside [0, " +
            std::to_string(num_steps()) + ")");
  }
  if (next_step_ >= 0 && step_index != next_step_) {
    invalid(who + " step: steps must run in order; expected step_index " + std::to_string(next_step_) +
            ", got " + std::to_string(step_index) + " (call set_timesteps to restart)");
  }
  if (model_output.shape() != sample.shape()) {
    invalid(who + " step: model_output " + shape_str(model_output.shape()) + " and sample " +
            shape_str(sample.shape()) + " differ in shape");
  }
  Tensor out = do_step(as_f32(model_output, *exec_, who.c_str(), "model_output"), step_index,
                       as_f32(sample, *exec_, who.c_str(), "sample"));
  next_step_ = step_index + 1;
  return out;
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, int num_train_timesteps) {
  if (name == "unipc") return std::make_unique<UniPCScheduler>(num_train_timesteps);
  if (name == "dpm++" || name == "dpmpp") return std::make_unique<DPMPPScheduler>(num_train_timesteps);
  if (name == "euler") return std::make_unique<EulerScheduler>(num_train_timesteps);
  invalid("unknown solver '" + name + "' (expected unipc, dpm++ or euler)");
}

std::vector<std::string> scheduler_names() { return {"unipc", "dpm++", "euler"}; }

}  // namespace wan22::sched
