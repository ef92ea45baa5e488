#include <cuda_runtime.h>

#include <memory>
#include <mutex>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "core/allocator.h"
#include "core/caching_allocator.h"
#include "core/tensor.h"

namespace wan22::cuda {

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  ErrorCode code = err == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kInternal;
  throw Error(code, std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                        ") in " + expr + " at " + file + ":" + std::to_string(line));
}

namespace {
std::string g_reason;
int g_count = -1;
std::once_flag g_once;

void probe() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    g_reason = std::string("no usable CUDA device: ") + cudaGetErrorString(e);
    cudaGetLastError();
    g_count = 0;
    return;
  }
  g_count = n;
  if (n == 0) g_reason = "no CUDA device present";
}

// Raw device memory for the caching allocator.
class CudaRawMemory final : public RawMemoryResource {
 public:
  explicit CudaRawMemory(int dev) : dev_(dev) {}
  void* raw_alloc(size_t bytes) override {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error state
      return nullptr;
    }
    return p;
  }
  void raw_free(void* p, size_t) override { cudaFree(p); }
  Device device() const override { return Device::cuda(dev_); }

 private:
  int dev_;
};

std::unique_ptr<CudaRawMemory> g_raw;
std::unique_ptr<CachingAllocator> g_alloc;

void device_copy(const Tensor& src, Tensor& dst) {
  if (!src.is_contiguous() || !dst.is_contiguous() || src.dtype() != dst.dtype()) {
    // Convert/compact on the host side first.
    if (src.device().is_cpu()) {
      Tensor c = src.to(dst.dtype()).contiguous();
      device_copy(c, dst);
      return;
    }
    throw Error(ErrorCode::kUnsupported, "device copy needs contiguous tensors of one dtype: " +
                                             src.str() + " -> " + dst.str());
  }
  cudaMemcpyKind kind = src.device().is_cpu() ? cudaMemcpyHostToDevice
                        : dst.device().is_cpu() ? cudaMemcpyDeviceToHost
                                                : cudaMemcpyDeviceToDevice;
  WAN22_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), src.nbytes(), kind));
}
}  // namespace

int device_count() {
  std::call_once(g_once, probe);
  return g_count;
}

const std::string& unavailable_reason() {
  device_count();
  return g_reason;
}

std::vector<DeviceInfo> devices() {
  std::vector<DeviceInfo> out;
  for (int i = 0; i < device_count(); ++i) {
    cudaDeviceProp p{};
    WAN22_CUDA_CHECK(cudaGetDeviceProperties(&p, i));
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.cc_major = p.major;
    d.cc_minor = p.minor;
    d.total_memory = p.totalGlobalMem;
    d.multiprocessors = p.multiProcessorCount;
    d.pci_bus = p.pciBusID;
    out.push_back(d);
  }
  return out;
}

void init(const CachingOptions& options) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (device_count() == 0) {
    throw Error(ErrorCode::kUnsupported, "CUDA backend: " + unavailable_reason());
  }
  if (g_alloc) return;
  g_raw = std::make_unique<CudaRawMemory>(0);
  g_alloc = std::make_unique<CachingAllocator>(g_raw.get(), options);
  register_allocator(DeviceType::kCUDA, g_alloc.get());
  register_device_copy(device_copy);
}

CachingAllocator* allocator() { return g_alloc.get(); }

Tensor pinned_empty(const Shape& shape, DType dtype) {
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  void* p = nullptr;
  WAN22_CUDA_CHECK(cudaMallocHost(&p, bytes == 0 ? 1 : bytes));
  std::shared_ptr<void> keep(p, [](void* q) { cudaFreeHost(q); });
  return Tensor::from_blob(p, shape, dtype, Device::cpu(), keep);
}

}  // namespace wan22::cuda
