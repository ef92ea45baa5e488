// Storage allocation. The CPU allocator is here; the CUDA caching allocator lives in backends/cuda.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace wan22 {

enum class DeviceType : uint8_t { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::kCUDA, i}; }
  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

struct AllocatorStats {
  uint64_t current_bytes = 0;   // bytes handed out and not yet freed
  uint64_t peak_bytes = 0;      // high-water mark of current_bytes
  uint64_t reserved_bytes = 0;  // bytes held from the system (>= current for caching allocators)
  uint64_t num_allocs = 0;
  uint64_t num_frees = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;  // throws Error(kOutOfMemory) on failure
  virtual void deallocate(void* p, size_t bytes) = 0;
  virtual Device device() const = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void reset_peak() = 0;
};

// 64-byte aligned host memory with statistics.
Allocator* cpu_allocator();

// Allocators per device type; a backend registers its allocator at start-up.
void register_allocator(DeviceType type, Allocator* a);
Allocator* allocator_for(Device d);

// A block of memory: owned by an allocator, or borrowed (mmap, user buffer) with a keep-alive.
class Storage {
 public:
  Storage(size_t bytes, Allocator* alloc);
  Storage(void* data, size_t bytes, Device device, std::shared_ptr<void> keep_alive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  Allocator* alloc_ = nullptr;
  std::shared_ptr<void> keep_alive_;
};

}  // namespace wan22
