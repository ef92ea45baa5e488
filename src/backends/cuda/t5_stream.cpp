// Weight packs and layer streaming of the UMT5 encoder (see t5_stream.h).
#include "backends/cuda/t5_stream.h"

#include <memory>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"

namespace wan22::cuda::t5 {

Tensor copy_to(const Tensor& t, bool to_device, cudaStream_t stream) {
  WAN22_CHECK(t.is_contiguous(), "T5Cuda: weight moves need contiguous tensors");
  Tensor m =
      to_device ? Tensor::empty(t.shape(), t.dtype(), Device::cuda(0)) : pinned_empty(t.shape(), t.dtype());
  if (t.nbytes() > 0) {
    WAN22_CUDA_CHECK(cudaMemcpyAsync(m.raw_data(), t.raw_data(), t.nbytes(), cudaMemcpyDefault, stream));
  }
  return m;
}

LayerStreamer::LayerStreamer() {
  WAN22_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
  for (int s = 0; s < 2; ++s) {
    WAN22_CUDA_CHECK(cudaEventCreateWithFlags(&ready_[s], cudaEventDisableTiming));
    WAN22_CUDA_CHECK(cudaEventCreateWithFlags(&freed_[s], cudaEventDisableTiming));
  }
}

LayerStreamer::~LayerStreamer() {
  if (copy_) cudaStreamSynchronize(copy_);
  for (int s = 0; s < 2; ++s) {
    if (ready_[s]) cudaEventDestroy(ready_[s]);
    if (freed_[s]) cudaEventDestroy(freed_[s]);
  }
  if (copy_) cudaStreamDestroy(copy_);
}

void LayerStreamer::begin(cudaStream_t compute) {
  for (int s = 0; s < 2; ++s) WAN22_CUDA_CHECK(cudaEventRecord(freed_[s], compute));
}

void LayerStreamer::issue(int s, const Tensor& src, const Tensor& slot) {
  WAN22_CHECK(src.nbytes() <= slot.nbytes(), "T5Cuda: layer pack larger than its streaming slot");
  WAN22_CUDA_CHECK(cudaStreamWaitEvent(copy_, freed_[s], 0));
  WAN22_CUDA_CHECK(cudaMemcpyAsync(slot.raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyHostToDevice, copy_));
  WAN22_CUDA_CHECK(cudaEventRecord(ready_[s], copy_));
}

void LayerStreamer::acquire(int s, cudaStream_t compute) {
  WAN22_CUDA_CHECK(cudaStreamWaitEvent(compute, ready_[s], 0));
}

void LayerStreamer::release(int s, cudaStream_t compute) { WAN22_CUDA_CHECK(cudaEventRecord(freed_[s], compute)); }

void LayerStreamer::synchronize() { WAN22_CUDA_CHECK(cudaStreamSynchronize(copy_)); }

}  // namespace wan22::cuda::t5
