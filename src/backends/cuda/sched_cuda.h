// The denoising loop's elementwise work on the GPU: a StepExecutor (sched/step_executor.h) whose
// LinPrograms (solver updates, CFG combine) run as one fused float32 kernel each on an explicit
// stream. Every multiply, add and divide is rounded on its own (__fmul_rn / __fadd_rn /
// __fdiv_rn, no FMA contraction), so its results are bit-identical to the CPU executor's.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "sched/step_executor.h"

namespace wan22::cuda {

class CudaStepExecutor final : public sched::StepExecutor {
 public:
  // Device 0 (cuda::init() must have run); all work is queued on `stream`.
  explicit CudaStepExecutor(cudaStream_t stream);
  Device device() const override { return Device::cuda(0); }
  std::string name() const override { return "cuda"; }
  std::vector<Tensor> run(const sched::LinProgram& p, const std::vector<Tensor>& inputs) override;
  // Contiguous tensors, or views whose dims after the first are contiguous (one frame of a
  // [C, F, H, W] latent: C rows of H*W elements, pitch F*H*W), through cudaMemcpy2DAsync.
  void copy(const Tensor& src, Tensor& dst) override;
  Tensor upload(const Tensor& t) override;
  Tensor download(const Tensor& t) override;
  void synchronize() override;
  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_;
};

// outputs[k][i] = output k of `p` at element i, for i < n (device pointers, float32).
void lin_program_f32(const sched::LinProgram& p, const float* const* inputs, float* const* outputs, int64_t n,
                     cudaStream_t stream);

}  // namespace wan22::cuda
