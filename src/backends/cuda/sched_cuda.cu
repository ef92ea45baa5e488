// The fused linear-combination kernel of the solvers and the CUDA StepExecutor (sched_cuda.h).
#include "backends/cuda/kernel_util.cuh"
#include "backends/cuda/sched_cuda.h"

namespace wan22::cuda {

namespace {

using sched::LinProgram;

struct DevInstr {
  int dst, x, y;
  float a, b, div;
};

struct LinArgs {
  DevInstr instrs[LinProgram::kMaxInstrs];
  const float* in[LinProgram::kMaxInputs];
  float* out[LinProgram::kMaxOutputs];
  int out_reg[LinProgram::kMaxOutputs];
  int n_instr, n_in, n_out;
  int64_t n;
};

// One element per thread-step; the program is uniform over the grid (no divergence), the
// registers live in a small per-thread array. Memory bound: reads n_in and writes n_out floats.
__global__ void lin_program_kernel(const __grid_constant__ LinArgs args) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < args.n; i += stride) {
    float r[LinProgram::kMaxRegs];
    for (int k = 0; k < args.n_in; ++k) r[k] = args.in[k][i];
    for (int j = 0; j < args.n_instr; ++j) {
      const DevInstr& in = args.instrs[j];
      float v = __fmul_rn(in.a, r[in.x]);
      if (in.y >= 0) v = __fadd_rn(v, __fmul_rn(in.b, r[in.y]));
      r[in.dst] = __fdiv_rn(v, in.div);  // exact for div == 1, like the CPU's skipped division
    }
    for (int k = 0; k < args.n_out; ++k) args.out[k][i] = r[args.out_reg[k]];
  }
}

// rows x row_elems floats with a row pitch (elements): the 2-D form of a copyable view.
struct Rows {
  int64_t rows = 1, row_elems = 0, pitch = 0;
};

Rows as_rows(const Tensor& t, const char* what) {
  Rows r;
  if (t.is_contiguous() || t.ndim() <= 1) {
    if (t.ndim() == 1 && t.numel() > 1 && t.strides()[0] != 1) {
      throw Error(ErrorCode::kUnsupported, std::string("CudaStepExecutor::copy: ") + what + " " + t.str() +
                                               " is a strided 1-D view");
    }
    r.row_elems = r.pitch = t.numel();
    return r;
  }
  // dims 1.. contiguous, dim 0 at any stride
  const Shape inner(t.shape().begin() + 1, t.shape().end());
  const Shape want = contiguous_strides(inner);
  for (size_t d = 0; d < inner.size(); ++d) {
    if (inner[d] != 1 && t.strides()[d + 1] != want[d]) {
      throw Error(ErrorCode::kUnsupported, std::string("CudaStepExecutor::copy: ") + what + " " + t.str() +
                                               " is not rows of contiguous elements");
    }
  }
  r.rows = t.dim(0);
  r.row_elems = shape_numel(inner);
  r.pitch = t.strides()[0];
  return r;
}

}  // namespace

void lin_program_f32(const LinProgram& p, const float* const* inputs, float* const* outputs, int64_t n,
                     cudaStream_t stream) {
  if (n <= 0) return;
  LinArgs args{};
  args.n_instr = static_cast<int>(p.instrs().size());
  args.n_in = p.num_inputs();
  args.n_out = static_cast<int>(p.outputs().size());
  args.n = n;
  for (int j = 0; j < args.n_instr; ++j) {
    const sched::LinInstr& s = p.instrs()[static_cast<size_t>(j)];
    args.instrs[j] = DevInstr{s.dst, s.x, s.y, s.a, s.b, s.div};
  }
  for (int k = 0; k < args.n_in; ++k) args.in[k] = inputs[k];
  for (int k = 0; k < args.n_out; ++k) {
    args.out[k] = outputs[k];
    args.out_reg[k] = p.outputs()[static_cast<size_t>(k)];
  }
  constexpr int kThreads = 256;
  lin_program_kernel<<<detail::grid_for(n, kThreads, 132 * 16), kThreads, 0, stream>>>(args);
  WAN22_CUDA_CHECK_LAUNCH();
}

CudaStepExecutor::CudaStepExecutor(cudaStream_t stream) : stream_(stream) {}

std::vector<Tensor> CudaStepExecutor::run(const LinProgram& p, const std::vector<Tensor>& inputs) {
  sched::check_lin_args(p, inputs, device(), name());
  std::vector<const float*> in;
  for (const Tensor& t : inputs) in.push_back(t.data<float>());
  std::vector<Tensor> outs;
  std::vector<float*> out;
  for (size_t k = 0; k < p.outputs().size(); ++k) {
    outs.push_back(Tensor::empty(inputs.front().shape(), DType::kF32, device()));
    out.push_back(outs.back().data<float>());
  }
  lin_program_f32(p, in.data(), out.data(), inputs.front().numel(), stream_);
  return outs;
}

void CudaStepExecutor::copy(const Tensor& src, Tensor& dst) {
  if (src.shape() != dst.shape() || src.dtype() != DType::kF32 || dst.dtype() != DType::kF32 ||
      src.device() != device() || dst.device() != device()) {
    throw Error(ErrorCode::kInvalidArgument, "CudaStepExecutor::copy: " + src.str() + " -> " + dst.str() +
                                                 " (same shape, float32, both on " + device().str() + ")");
  }
  const Rows s = as_rows(src, "source"), d = as_rows(dst, "destination");
  if (s.rows * s.row_elems != d.rows * d.row_elems || (s.rows != d.rows && s.rows != 1 && d.rows != 1)) {
    throw Error(ErrorCode::kUnsupported, "CudaStepExecutor::copy: layouts of " + src.str() + " and " + dst.str() +
                                             " do not match row for row");
  }
  if (s.rows == d.rows) {
    WAN22_CUDA_CHECK(cudaMemcpy2DAsync(dst.raw_data(), static_cast<size_t>(d.pitch) * sizeof(float), src.raw_data(),
                                       static_cast<size_t>(s.pitch) * sizeof(float),
                                       static_cast<size_t>(s.row_elems) * sizeof(float), static_cast<size_t>(s.rows),
                                       cudaMemcpyDeviceToDevice, stream_));
    return;
  }
  // one side contiguous, the other rows: copy in the rows' shape
  const Rows& r = s.rows == 1 ? d : s;
  const size_t sp = static_cast<size_t>(s.rows == 1 ? r.row_elems : s.pitch) * sizeof(float);
  const size_t dp = static_cast<size_t>(d.rows == 1 ? r.row_elems : d.pitch) * sizeof(float);
  WAN22_CUDA_CHECK(cudaMemcpy2DAsync(dst.raw_data(), dp, src.raw_data(), sp,
                                     static_cast<size_t>(r.row_elems) * sizeof(float), static_cast<size_t>(r.rows),
                                     cudaMemcpyDeviceToDevice, stream_));
}

Tensor CudaStepExecutor::upload(const Tensor& t) {
  if (t.device() == device()) {
    if (t.dtype() != DType::kF32) {
      throw Error(ErrorCode::kUnsupported, "CudaStepExecutor::upload: device tensor " + t.str() + " is not float32");
    }
    Tensor out = Tensor::empty(t.shape(), DType::kF32, device());
    copy(t, out);
    return out;
  }
  if (!t.device().is_cpu()) {
    throw Error(ErrorCode::kUnsupported, "CudaStepExecutor::upload: " + t.str() + " is on another device");
  }
  const Tensor host = t.to(DType::kF32).contiguous();
  Tensor out = Tensor::empty(t.shape(), DType::kF32, device());
  // Pageable source: the call returns once the data is staged, so `host` may die afterwards.
  WAN22_CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), host.raw_data(), host.nbytes(), cudaMemcpyHostToDevice, stream_));
  return out;
}

Tensor CudaStepExecutor::download(const Tensor& t) {
  if (t.device().is_cpu()) return t.to(DType::kF32).clone();
  if (t.device() != device() || t.dtype() != DType::kF32) {
    throw Error(ErrorCode::kUnsupported, "CudaStepExecutor::download: " + t.str() + " (float32 on " +
                                             device().str() + " expected)");
  }
  Tensor src = t;
  if (!t.is_contiguous()) {
    src = Tensor::empty(t.shape(), DType::kF32, device());
    copy(t, src);
  }
  Tensor host = Tensor::empty(t.shape(), DType::kF32);
  WAN22_CUDA_CHECK(cudaMemcpyAsync(host.raw_data(), src.raw_data(), host.nbytes(), cudaMemcpyDeviceToHost, stream_));
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return host;
}

void CudaStepExecutor::synchronize() { WAN22_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace wan22::cuda
