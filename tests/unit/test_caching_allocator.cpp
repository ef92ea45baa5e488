#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

#include "core/caching_allocator.h"
#include "core/status.h"

using namespace wan22;

namespace {
// Host memory standing in for a device, with a capacity to simulate out-of-memory.
class FakeDevice : public RawMemoryResource {
 public:
  explicit FakeDevice(size_t capacity) : capacity_(capacity) {}
  ~FakeDevice() override { EXPECT_EQ(used_, 0u) << "segments leaked"; }
  void* raw_alloc(size_t bytes) override {
    if (used_ + bytes > capacity_) return nullptr;
    used_ += bytes;
    void* p = std::malloc(bytes);
    sizes_[p] = bytes;
    calls_++;
    return p;
  }
  void raw_free(void* p, size_t bytes) override {
    EXPECT_EQ(sizes_.at(p), bytes);
    sizes_.erase(p);
    used_ -= bytes;
    std::free(p);
  }
  Device device() const override { return Device::cuda(0); }
  size_t used() const { return used_; }
  int calls() const { return calls_; }

 private:
  size_t capacity_, used_ = 0;
  int calls_ = 0;
  std::map<void*, size_t> sizes_;
};
constexpr size_t MiB = 1u << 20;
}  // namespace

TEST(CachingAllocator, ReusesFreedBlocksAndCoalesces) {
  FakeDevice dev(1024 * MiB);
  {
    CachingAllocator a(&dev, {});
    void* p1 = a.allocate(1000);
    void* p2 = a.allocate(3000);
    EXPECT_NE(p1, p2);
    EXPECT_EQ(dev.calls(), 1);  // small requests share one segment
    a.deallocate(p1, 1000);
    void* p3 = a.allocate(900);  // fits the freed block
    EXPECT_EQ(p3, p1);
    a.deallocate(p2, 3000);
    a.deallocate(p3, 900);
    CachingStats s = a.caching_stats();
    EXPECT_EQ(s.current_bytes, 0u);
    EXPECT_GE(s.peak_bytes, 1024u + 3072u);
    // Fully coalesced: one free block spanning the segment, or the segment was trimmed.
    EXPECT_EQ(s.fragmentation, 0.0);
  }
  EXPECT_EQ(dev.used(), 0u);
}

TEST(CachingAllocator, PoolReservedUpFrontServesRequests) {
  FakeDevice dev(1024 * MiB);
  CachingOptions o;
  o.pool_bytes = 64 * MiB;
  CachingAllocator a(&dev, o);
  EXPECT_EQ(dev.calls(), 1);
  EXPECT_EQ(a.caching_stats().reserved_bytes, 64 * MiB);
  std::vector<void*> ps;
  for (int i = 0; i < 30; ++i) ps.push_back(a.allocate(2 * MiB));
  EXPECT_EQ(dev.calls(), 1) << "all requests should come from the pool";
  for (void* p : ps) a.deallocate(p, 2 * MiB);
  EXPECT_EQ(a.empty_cache(), 0u) << "the pool itself is never released";
  EXPECT_EQ(a.caching_stats().reserved_bytes, 64 * MiB);
}

TEST(CachingAllocator, BudgetIsEnforcedWithClearError) {
  FakeDevice dev(1024 * MiB);
  CachingOptions o;
  o.budget_bytes = 16 * MiB;
  CachingAllocator a(&dev, o);
  void* p = a.allocate(10 * MiB);
  try {
    a.allocate(10 * MiB);
    FAIL() << "expected out of memory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("budget"), std::string::npos) << e.what();
  }
  a.deallocate(p, 10 * MiB);
  EXPECT_LE(a.caching_stats().reserved_bytes, 16 * MiB);
  void* q = a.allocate(12 * MiB);  // released cache makes room
  a.deallocate(q, 12 * MiB);
}

TEST(CachingAllocator, RecoversFromDeviceOomByReleasingCache) {
  FakeDevice dev(40 * MiB);
  CachingOptions o;
  o.fragmentation_threshold = 1.0;  // never trim on a miss: keep the cache
  CachingAllocator a(&dev, o);
  void* p = a.allocate(30 * MiB);
  a.deallocate(p, 30 * MiB);
  EXPECT_EQ(a.caching_stats().reserved_bytes, 30 * MiB);
  void* q = a.allocate(35 * MiB);  // does not fit beside the cached 30 MiB: cache released, retried
  EXPECT_EQ(a.caching_stats().oom_retries, 1u);
  a.deallocate(q, 35 * MiB);
  EXPECT_THROW(a.allocate(100 * MiB), Error);
}

TEST(CachingAllocator, TrimsWhenFreeFractionPassesThreshold) {
  FakeDevice dev(1024 * MiB);
  CachingOptions o;
  o.fragmentation_threshold = 0.5;
  CachingAllocator a(&dev, o);
  void* big = a.allocate(8 * MiB);
  void* keep = a.allocate(8 * MiB);
  EXPECT_EQ(a.caching_stats().num_segments, 2u);
  a.deallocate(big, 8 * MiB);   // frees never trim: the cache serves the next same-size request
  a.deallocate(keep, 8 * MiB);
  EXPECT_EQ(a.caching_stats().num_segments, 2u);
  void* again = a.allocate(8 * MiB);  // a hit: no trim, no new segment
  EXPECT_EQ(a.caching_stats().num_segments, 2u);
  EXPECT_EQ(a.caching_stats().segment_frees, 0u);
  // A miss (32 MiB fits no cached block) with free/reserved = 0.5: not above the threshold.
  void* big2 = a.allocate(32 * MiB);
  EXPECT_EQ(a.caching_stats().num_segments, 3u);
  a.deallocate(big2, 32 * MiB);
  // Now free/reserved = 40/48 > 0.5 and a 64 MiB miss: the two wholly free segments go back.
  void* big3 = a.allocate(64 * MiB);
  EXPECT_EQ(a.caching_stats().num_segments, 2u);  // the one holding `again` + the new one
  EXPECT_EQ(a.caching_stats().segment_frees, 2u);
  a.deallocate(big3, 64 * MiB);
  a.deallocate(again, 8 * MiB);
  a.empty_cache();
  EXPECT_EQ(dev.used(), 0u);
}

TEST(CachingAllocator, RandomWorkloadKeepsInvariants) {
  FakeDevice dev(4096 * MiB);
  CachingAllocator a(&dev, {});
  std::mt19937 rng(7);
  std::vector<std::pair<void*, size_t>> live;
  size_t live_bytes = 0;
  for (int i = 0; i < 3000; ++i) {
    if (live.empty() || rng() % 3 != 0) {
      size_t sz = 1 + rng() % (rng() % 4 == 0 ? 8 * MiB : 64 * 1024);
      void* p = a.allocate(sz);
      std::memset(p, 0xab, sz);  // must be writable and not overlap (checked by ASan builds)
      live.push_back({p, sz});
      live_bytes += (sz + 511) / 512 * 512;
    } else {
      size_t k = rng() % live.size();
      a.deallocate(live[k].first, live[k].second);
      live_bytes -= (live[k].second + 511) / 512 * 512;
      live.erase(live.begin() + static_cast<long>(k));
    }
    CachingStats s = a.caching_stats();
    ASSERT_EQ(s.current_bytes, live_bytes);
    ASSERT_LE(s.current_bytes, s.reserved_bytes);
    ASSERT_EQ(s.reserved_bytes, dev.used());
  }
  for (auto& [p, sz] : live) a.deallocate(p, sz);
  a.empty_cache();
  EXPECT_EQ(dev.used(), 0u);
}
