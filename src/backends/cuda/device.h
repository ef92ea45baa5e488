// CUDA device discovery. Callable without a GPU: reports zero devices and why.
#pragma once
#include <string>
#include <vector>

#include "core/caching_allocator.h"
#include "core/tensor.h"

namespace wan22::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;
  int multiprocessors = 0;
  int pci_bus = 0;
};

// Number of usable devices; 0 when there is no driver or no GPU (reason() says why).
int device_count();
const std::string& unavailable_reason();
std::vector<DeviceInfo> devices();
// Creates the caching allocator of device 0 with `options` (the guide's memory_pool and the VRAM
// budget) and registers it and the host<->device copy with the core. Later calls do nothing.
// Throws Error(kUnsupported) naming the reason when no GPU is usable.
void init(const CachingOptions& options = {});
CachingAllocator* allocator();  // nullptr before init()

// Page-locked host memory as a CPU tensor (cudaMallocHost; freed with cudaFreeHost when the last
// view dies): the host side of weight streaming and offload.
Tensor pinned_empty(const Shape& shape, DType dtype);

}  // namespace wan22::cuda
