#include "sched/step_executor.h"

#include "core/status.h"
#include "sched/elementwise.h"

namespace wan22::sched {

namespace {

class CpuStepExecutor final : public StepExecutor {
 public:
  Device device() const override { return Device::cpu(); }
  std::string name() const override { return "cpu"; }

  std::vector<Tensor> run(const LinProgram& p, const std::vector<Tensor>& inputs) override {
    check_lin_args(p, inputs, device(), name());
    std::vector<Tensor> outs;
    std::vector<const float*> in_ptr;
    std::vector<float*> out_ptr;
    for (const Tensor& t : inputs) in_ptr.push_back(t.data<float>());
    for (size_t k = 0; k < p.outputs().size(); ++k) {
      outs.push_back(empty_like_f32(inputs.front()));
      out_ptr.push_back(outs.back().data<float>());
    }
    for_each_chunk(inputs.front().numel(), [&](int64_t b, int64_t e) {
      run_lin_program_host(p, in_ptr.data(), out_ptr.data(), b, e);
    });
    return outs;
  }

  void copy(const Tensor& src, Tensor& dst) override { dst.copy_from(src); }

  // Always a new tensor: the loop writes into it (and t may be a read-only mapping).
  Tensor upload(const Tensor& t) override {
    const Tensor h = t.device().is_cpu() ? t : t.to(Device::cpu());
    return h.dtype() == DType::kF32 ? h.clone() : h.to(DType::kF32);
  }
  Tensor download(const Tensor& t) override { return upload(t); }
};

}  // namespace

StepExecutor& cpu_executor() {
  static CpuStepExecutor exec;
  return exec;
}

void check_lin_args(const LinProgram& p, const std::vector<Tensor>& inputs, Device device, const std::string& who) {
  auto bad = [&](const std::string& m) { throw_error(ErrorCode::kInvalidArgument, who + " executor: " + m); };
  if (static_cast<int>(inputs.size()) != p.num_inputs()) {
    bad("the program takes " + std::to_string(p.num_inputs()) + " inputs, got " + std::to_string(inputs.size()));
  }
  if (inputs.empty()) bad("a program needs at least one input (it gives the shape)");
  if (p.outputs().empty()) bad("the program has no outputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const std::string name = "input " + std::to_string(i) + " " + (t.defined() ? t.str() : std::string("(undefined)"));
    if (!t.defined()) bad(name);
    if (t.dtype() != DType::kF32) bad(name + " is not float32");
    if (!t.is_contiguous()) bad(name + " is not contiguous");
    if (t.device() != device) bad(name + " is not on " + device.str());
    if (t.shape() != inputs.front().shape()) {
      bad(name + " differs in shape from input 0 " + shape_str(inputs.front().shape()));
    }
  }
}

}  // namespace wan22::sched
