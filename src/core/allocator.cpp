#include "core/allocator.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>

#include "core/status.h"

namespace wan22 {

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) {
      throw Error(ErrorCode::kOutOfMemory,
                  "host allocation of " + std::to_string(bytes) + " bytes failed");
    }
    uint64_t cur = current_.fetch_add(bytes) + bytes;
    uint64_t peak = peak_.load();
    while (cur > peak && !peak_.compare_exchange_weak(peak, cur)) {
    }
    allocs_.fetch_add(1);
    return p;
  }
  void deallocate(void* p, size_t bytes) override {
    if (!p) return;
    std::free(p);
    current_.fetch_sub(bytes);
    frees_.fetch_add(1);
  }
  Device device() const override { return Device::cpu(); }
  AllocatorStats stats() const override {
    AllocatorStats s;
    s.current_bytes = current_.load();
    s.peak_bytes = peak_.load();
    s.reserved_bytes = s.current_bytes;
    s.num_allocs = allocs_.load();
    s.num_frees = frees_.load();
    return s;
  }
  void reset_peak() override { peak_.store(current_.load()); }

 private:
  std::atomic<uint64_t> current_{0}, peak_{0}, allocs_{0}, frees_{0};
};

Allocator* g_allocators[2] = {nullptr, nullptr};
std::mutex g_alloc_mutex;

}  // namespace

Allocator* cpu_allocator() {
  static CpuAllocator a;
  return &a;
}

void register_allocator(DeviceType type, Allocator* a) {
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  g_allocators[static_cast<int>(type)] = a;
}

Allocator* allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  Allocator* a = g_allocators[static_cast<int>(d.type)];
  if (!a) throw Error(ErrorCode::kUnsupported, "no allocator for device " + d.str() +
                                                   " (backend not built or not initialised)");
  return a;
}

Storage::Storage(size_t bytes, Allocator* alloc)
    : bytes_(bytes), device_(alloc->device()), alloc_(alloc) {
  data_ = alloc_->allocate(bytes);
}

Storage::Storage(void* data, size_t bytes, Device device, std::shared_ptr<void> keep_alive)
    : data_(data), bytes_(bytes), device_(device), keep_alive_(std::move(keep_alive)) {}

Storage::~Storage() {
  if (alloc_) alloc_->deallocate(data_, bytes_);
}

}  // namespace wan22
