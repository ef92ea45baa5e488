// The model cache (the guide's model_caching.*): converted or quantized weights kept in load-ready
// form, as safetensors files in a directory (or as file images in this process's memory), under a
// size limit with least-recently-used eviction.
//
// An entry is named "<component>-<16 hex digits>" (the digits hash the key) and stores its whole key
// in the metadata: the source checkpoint files' identity (canonical path, size, modification time)
// and the conversion (format, layout version, model sizes), so a changed checkpoint or format never
// matches an old entry. Entries are written to a temporary name and renamed: a reader sees a whole
// entry or none. Use on disk marks the entry's modification time (the LRU order survives the
// process).
//
//   io::ModelCache cache = io::ModelCache::from_options({.enabled = true, .location = "ssd"});
//   const std::string key = io::ModelCache::key_for(files, "dit fp8 v1 dim 3072 ...");
//   std::string note;
//   if (auto f = cache.find("dit", key, &note)) { /* load from *f */ }
//   else cache.store("dit", key, entries, fill, {}, &note);
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace wan22::io {

struct ModelCacheOptions {
  bool enabled = false;
  // "ssd": default_cache_dir(); "ram": this process's memory only (kept between jobs of one
  // process: the service, the bench); anything else: a directory (created if missing).
  std::string location = "ssd";
  double size_gb = 8;  // GiB limit of the entries together
};

// $XDG_CACHE_HOME/wan22, else $HOME/.cache/wan22 (kNotFound when neither variable is set).
std::string default_cache_dir();

struct CacheEntryInfo {
  std::string name;  // "dit-0123456789abcdef"
  std::string path;  // the file ("" in RAM)
  uint64_t bytes = 0;
  double last_used = 0;  // seconds since the epoch (disk) or a use counter (RAM)
  std::map<std::string, std::string> metadata;
};

class ModelCache {
 public:
  // dir: the cache directory, or "" for the RAM store (process-wide: every RAM ModelCache shares it).
  ModelCache(std::string dir, uint64_t limit_bytes);
  static ModelCache from_options(const ModelCacheOptions& o);

  bool in_ram() const { return dir_.empty(); }
  const std::string& dir() const { return dir_; }
  uint64_t limit_bytes() const { return limit_; }
  std::string describe() const;  // "/home/u/.cache/wan22 (limit 8.0 GiB)", "RAM (limit 8.0 GiB)"

  // The key of a conversion of the files `sources` (each: canonical path, size, modification time).
  // Throws kNotFound naming a source that does not exist.
  static std::string key_for(const std::vector<std::string>& sources, const std::string& conversion);
  // "<component>-<16 hex digits of the key's hash>"
  static std::string entry_name(const std::string& component, const std::string& key);

  // The entry of (component, key), opened and marked as used; nullptr when there is none. An entry
  // that is unreadable (truncated, corrupt) or holds another key is removed, and *note says why.
  std::unique_ptr<SafetensorsFile> find(const std::string& component, const std::string& key, std::string* note);

  // Writes the entry (tensors produced one at a time by `fill`), evicting least recently used
  // entries until it fits. Returns false, with the reason in *note and nothing else changed, when it
  // alone exceeds the limit or the write fails (e.g. the disk is full: the partial file is removed).
  bool store(const std::string& component, const std::string& key, const std::vector<SafetensorsEntry>& entries,
             const SafetensorsFill& fill, std::map<std::string, std::string> metadata, std::string* note);

  std::vector<CacheEntryInfo> list() const;  // most recently used first
  uint64_t total_bytes() const;
  bool remove(const std::string& name);      // false when there is no such entry
  size_t clear();                            // removes every entry (and stale temporaries); returns the count

 private:
  std::string path_of(const std::string& name) const;
  void evict_for(uint64_t incoming, const std::string& keep, std::vector<std::string>* evicted);
  std::string dir_;
  uint64_t limit_ = 0;
};

}  // namespace wan22::io
