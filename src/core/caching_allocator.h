// A caching allocator over any raw memory resource (cudaMalloc on the GPU; a fake in tests).
// Blocks are carved from segments, freed blocks are cached and coalesced, an optional pool is
// reserved up front (the guide's memory_pool.pool_size_gb), cached segments are released when
// free-but-unusable memory passes the fragmentation threshold, and an optional budget caps the
// bytes reserved from the device (the VRAM budget).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/allocator.h"

namespace wan22 {

class RawMemoryResource {
 public:
  virtual ~RawMemoryResource() = default;
  virtual void* raw_alloc(size_t bytes) = 0;  // nullptr when the device is out of memory
  virtual void raw_free(void* p, size_t bytes) = 0;
  virtual Device device() const = 0;
};

struct CachingOptions {
  size_t pool_bytes = 0;                 // reserved up front as one segment (0: none)
  double fragmentation_threshold = 0.1;  // on a cache miss, release wholly free segments when
                                         // free/reserved passes this (never on a hit or a free)
  size_t budget_bytes = 0;               // cap on reserved bytes (0: unlimited)
  size_t min_segment_bytes = 2u << 20;   // new segments are at least this big (2 MiB)
  size_t large_segment_bytes = 20u << 20;  // small requests share segments of this size
  size_t alignment = 512;
};

struct CachingStats : AllocatorStats {
  uint64_t free_cached_bytes = 0;   // reserved but not handed out
  uint64_t peak_reserved_bytes = 0; // high-water mark of reserved_bytes (since reset_peak)
  uint64_t largest_free_block = 0;
  uint64_t num_segments = 0;
  uint64_t segment_allocs = 0;      // raw allocations made
  uint64_t segment_frees = 0;       // raw frees made (trims, empty_cache)
  uint64_t cache_hits = 0;          // requests served from cached blocks
  uint64_t oom_retries = 0;         // raw failures recovered by releasing the cache
  // 1 - largest_free_block / free_cached_bytes: how much of the cached memory cannot serve the
  // largest request it could in principle hold (0 when nothing is cached).
  double fragmentation = 0.0;
};

class CachingAllocator final : public Allocator {
 public:
  CachingAllocator(RawMemoryResource* raw, CachingOptions opt);
  ~CachingAllocator() override;

  void* allocate(size_t bytes) override;
  void deallocate(void* p, size_t bytes) override;
  Device device() const override { return raw_->device(); }
  AllocatorStats stats() const override { return caching_stats(); }
  void reset_peak() override;

  CachingStats caching_stats() const;
  const CachingOptions& options() const { return opt_; }
  void set_budget(size_t budget_bytes);  // 0: unlimited; does not free live blocks
  // Releases every cached segment that holds no live block (the up-front pool stays).
  size_t empty_cache();
  std::string describe() const;  // one-line summary for logs

 private:
  struct Block {
    char* ptr;
    size_t size;
    bool free;
    int segment;
    Block* prev;  // neighbours within the segment
    Block* next;
  };
  struct BySize {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };
  struct Segment {
    char* base;
    size_t size;
    bool pinned;  // the up-front pool: never released
    bool live;
  };

  Block* find_free(size_t size);
  Block* new_segment(size_t size, bool pinned);
  size_t release_free_segments_locked();
  void maybe_trim_locked();
  void release_segment_locked(int seg);

  RawMemoryResource* raw_;
  CachingOptions opt_;
  mutable std::mutex mu_;
  std::set<Block*, BySize> free_;
  std::map<char*, Block*> live_;  // allocated blocks by pointer
  std::vector<Segment> segments_;
  std::vector<Block*> segment_heads_;
  CachingStats s_;
};

}  // namespace wan22
