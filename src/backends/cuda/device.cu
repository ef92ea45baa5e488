#include <cuda_runtime.h>

#include <mutex>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "core/allocator.h"
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

// Plain cudaMalloc allocator with statistics (the caching allocator replaces it).
class SimpleCudaAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    if (bytes == 0) bytes = 1;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      throw Error(ErrorCode::kOutOfMemory, "CUDA allocation of " + std::to_string(bytes) +
                                               " bytes failed: " + cudaGetErrorString(e));
    }
    std::lock_guard<std::mutex> l(mu_);
    s_.current_bytes += bytes;
    s_.reserved_bytes = s_.current_bytes;
    s_.peak_bytes = std::max(s_.peak_bytes, s_.current_bytes);
    s_.num_allocs++;
    return p;
  }
  void deallocate(void* p, size_t bytes) override {
    if (!p) return;
    cudaFree(p);
    std::lock_guard<std::mutex> l(mu_);
    s_.current_bytes -= bytes == 0 ? 1 : bytes;
    s_.reserved_bytes = s_.current_bytes;
    s_.num_frees++;
  }
  Device device() const override { return Device::cuda(0); }
  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> l(mu_);
    return s_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> l(mu_);
    s_.peak_bytes = s_.current_bytes;
  }

 private:
  mutable std::mutex mu_;
  AllocatorStats s_;
};

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

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (device_count() == 0) return;
    static SimpleCudaAllocator alloc;
    register_allocator(DeviceType::kCUDA, &alloc);
    register_device_copy(device_copy);
  });
}

}  // namespace wan22::cuda
