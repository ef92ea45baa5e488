// Where a denoising loop's elementwise work runs: the solvers' updates and the CFG combine are
// LinPrograms (sched/lin_program.h) that an executor evaluates on its device, one pass over the
// elements per program. The CPU executor is here; the CUDA one is in backends/cuda/sched_cuda.h.
// Latents, model outputs and solver history stay on the executor's device for the whole loop.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "sched/lin_program.h"

namespace wan22::sched {

class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;

  // Runs `p` elementwise over `inputs` (p.num_inputs() float32 contiguous tensors of one shape on
  // device()); returns p.outputs().size() new float32 tensors of that shape. Throws
  // Error(kInvalidArgument) naming the mismatch otherwise.
  virtual std::vector<Tensor> run(const LinProgram& p, const std::vector<Tensor>& inputs) = 0;
  // dst = src (same shape and dtype float32, both on device()); either may be a view such as one
  // frame of a [C, F, H, W] latent.
  virtual void copy(const Tensor& src, Tensor& dst) = 0;
  // A new float32 contiguous copy on device() of a tensor (CPU tensors of any dtype).
  virtual Tensor upload(const Tensor& t) = 0;
  // A new float32 contiguous CPU copy of a tensor of device() (waits for the device).
  virtual Tensor download(const Tensor& t) = 0;
  // Waits until every queued operation has finished (step timings).
  virtual void synchronize() {}
};

// The process-wide CPU executor (thread pool; bit-identical to the reference's float32 rounding).
StepExecutor& cpu_executor();

// The checks every executor makes on run()'s arguments (count, dtype, shape, contiguity, device).
void check_lin_args(const LinProgram& p, const std::vector<Tensor>& inputs, Device device, const std::string& who);

}  // namespace wan22::sched
