#include "core/caching_allocator.h"

#include <algorithm>
#include <cstdio>

#include "core/log.h"
#include "core/status.h"

namespace wan22 {

namespace {
size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }
std::string gib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  return buf;
}
}  // namespace

CachingAllocator::CachingAllocator(RawMemoryResource* raw, CachingOptions opt) : raw_(raw), opt_(opt) {
  if (opt_.alignment == 0) opt_.alignment = 512;
  if (opt_.pool_bytes > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    Block* b = new_segment(round_up(opt_.pool_bytes, opt_.min_segment_bytes), /*pinned=*/true);
    if (!b) {
      throw Error(ErrorCode::kOutOfMemory, "memory pool: cannot reserve " + gib(opt_.pool_bytes) +
                                               " up front on " + raw_->device().str());
    }
    free_.insert(b);
  }
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].live) {
      raw_->raw_free(segments_[i].base, segments_[i].size);
      Block* b = segment_heads_[i];
      while (b) {
        Block* n = b->next;
        delete b;
        b = n;
      }
    }
  }
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t size, bool pinned) {
  if (opt_.budget_bytes > 0 && s_.reserved_bytes + size > opt_.budget_bytes) return nullptr;
  void* p = raw_->raw_alloc(size);
  if (!p) return nullptr;
  int seg = static_cast<int>(segments_.size());
  segments_.push_back({static_cast<char*>(p), size, pinned, true});
  Block* b = new Block{static_cast<char*>(p), size, true, seg, nullptr, nullptr};
  segment_heads_.push_back(b);
  s_.reserved_bytes += size;
  s_.peak_reserved_bytes = std::max(s_.peak_reserved_bytes, s_.reserved_bytes);
  s_.segment_allocs++;
  s_.num_segments++;
  return b;
}

CachingAllocator::Block* CachingAllocator::find_free(size_t size) {
  Block key{nullptr, size, true, 0, nullptr, nullptr};
  auto it = free_.lower_bound(&key);
  if (it == free_.end()) return nullptr;
  Block* b = *it;
  free_.erase(it);
  return b;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_up(std::max<size_t>(bytes, 1), opt_.alignment);
  std::lock_guard<std::mutex> lock(mu_);
  Block* b = find_free(size);
  if (b) {
    s_.cache_hits++;
  } else {
    // The cache could not serve this request: its free memory is unusable for it. Past the
    // fragmentation threshold, give the wholly free segments back before reserving more.
    maybe_trim_locked();
    size_t seg_size = size <= opt_.min_segment_bytes / 2 ? opt_.large_segment_bytes
                                                          : round_up(size, opt_.min_segment_bytes);
    if (opt_.budget_bytes > 0 && seg_size > size && s_.reserved_bytes + seg_size > opt_.budget_bytes) {
      seg_size = round_up(size, opt_.alignment);  // fit under the budget with an exact segment
    }
    b = new_segment(seg_size, false);
    if (!b && release_free_segments_locked() > 0) {
      s_.oom_retries++;
      b = new_segment(seg_size, false);
      if (!b && seg_size > size) b = new_segment(size, false);
    }
    if (!b) {
      bool budget = opt_.budget_bytes > 0 && s_.reserved_bytes + size > opt_.budget_bytes;
      throw Error(ErrorCode::kOutOfMemory,
                  std::string(budget ? "memory budget exceeded" : "device out of memory") + " on " +
                      raw_->device().str() + ": request of " + std::to_string(bytes) + " bytes; " +
                      "allocated " + gib(s_.current_bytes) + ", reserved " + gib(s_.reserved_bytes) +
                      (opt_.budget_bytes ? ", budget " + gib(opt_.budget_bytes) : std::string()));
    }
  }
  // Split off the remainder when it is worth keeping.
  if (b->size - size >= opt_.alignment) {
    Block* rest = new Block{b->ptr + size, b->size - size, true, b->segment, b, b->next};
    if (b->next) b->next->prev = rest;
    b->next = rest;
    b->size = size;
    free_.insert(rest);
  }
  b->free = false;
  live_[b->ptr] = b;
  s_.current_bytes += b->size;
  s_.peak_bytes = std::max(s_.peak_bytes, s_.current_bytes);
  s_.num_allocs++;
  return b->ptr;
}

void CachingAllocator::deallocate(void* p, size_t /*bytes*/) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(static_cast<char*>(p));
  if (it == live_.end()) {
    LOG_ERROR << "caching allocator: free of unknown pointer " << p << " (ignored)";
    return;
  }
  Block* b = it->second;
  live_.erase(it);
  s_.current_bytes -= b->size;
  s_.num_frees++;
  b->free = true;
  // Coalesce with free neighbours in the same segment.
  if (b->next && b->next->free) {
    Block* n = b->next;
    free_.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    delete n;
  }
  if (b->prev && b->prev->free) {
    Block* pv = b->prev;
    free_.erase(pv);
    pv->size += b->size;
    pv->next = b->next;
    if (b->next) b->next->prev = pv;
    delete b;
    b = pv;
  }
  free_.insert(b);
}

void CachingAllocator::release_segment_locked(int seg) {
  Segment& s = segments_[seg];
  Block* head = segment_heads_[seg];
  free_.erase(head);
  delete head;
  segment_heads_[seg] = nullptr;
  raw_->raw_free(s.base, s.size);
  s.live = false;
  s_.reserved_bytes -= s.size;
  s_.segment_frees++;
  s_.num_segments--;
}

size_t CachingAllocator::release_free_segments_locked() {
  size_t released = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    Segment& s = segments_[i];
    Block* head = segment_heads_[i];
    if (!s.live || s.pinned || !head) continue;
    if (head->free && head->next == nullptr && head->size == s.size) {
      released += s.size;
      release_segment_locked(static_cast<int>(i));
    }
  }
  return released;
}

void CachingAllocator::maybe_trim_locked() {
  if (s_.reserved_bytes == 0) return;
  double free_frac = static_cast<double>(s_.reserved_bytes - s_.current_bytes) / s_.reserved_bytes;
  if (free_frac > opt_.fragmentation_threshold) {
    size_t r = release_free_segments_locked();
    if (r) LOG_DEBUG << "caching allocator: trimmed " << r << " bytes (free fraction " << free_frac << ")";
  }
}

size_t CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  return release_free_segments_locked();
}

void CachingAllocator::set_budget(size_t budget_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  opt_.budget_bytes = budget_bytes;
  if (budget_bytes && s_.reserved_bytes > budget_bytes) release_free_segments_locked();
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  s_.peak_bytes = s_.current_bytes;
  s_.peak_reserved_bytes = s_.reserved_bytes;
}

CachingStats CachingAllocator::caching_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CachingStats s = s_;
  s.free_cached_bytes = s.reserved_bytes - s.current_bytes;
  s.largest_free_block = free_.empty() ? 0 : (*free_.rbegin())->size;
  s.fragmentation = s.free_cached_bytes == 0
                        ? 0.0
                        : 1.0 - static_cast<double>(s.largest_free_block) / s.free_cached_bytes;
  return s;
}

std::string CachingAllocator::describe() const {
  CachingStats s = caching_stats();
  return raw_->device().str() + ": allocated " + gib(s.current_bytes) + ", peak " + gib(s.peak_bytes) +
         ", reserved " + gib(s.reserved_bytes) + ", fragmentation " +
         std::to_string(static_cast<int>(s.fragmentation * 100)) + "%";
}

}  // namespace wan22
