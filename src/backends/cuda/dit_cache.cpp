#include "backends/cuda/dit_cache.h"

#include <chrono>
#include <optional>
#include <set>
#include <vector>

#include "core/status.h"
#include "io/weight_store.h"

namespace wan22::cuda {

std::vector<std::string> dit_source_files(const DitCuda& dit, const io::WeightStore& ws) {
  std::set<std::string> files;
  for (const std::string& k : dit.checkpoint_keys()) {
    if (ws.contains(k)) files.insert(ws.file_of(k));  // a missing key: load() names it
  }
  return {files.begin(), files.end()};
}

std::string load_dit_cached(DitCuda& d, const io::WeightStore& ws, const DitLoadOptions& lo,
                            const io::ModelCacheOptions& opts, cudaStream_t st,
                            const std::function<void(const std::string&)>& notice, double* write_s, bool write) {
  if (write_s) *write_s = 0;
  if (!opts.enabled) {
    d.load(ws, st, lo);
    return "";
  }
  std::optional<io::ModelCache> cache;
  std::string key;
  std::vector<std::string> files;
  try {
    cache.emplace(io::ModelCache::from_options(opts));
    files = dit_source_files(d, ws);
    key = io::ModelCache::key_for(files, d.load_ready_signature(lo.format));
  } catch (const Error& e) {
    notice(std::string("model cache unavailable (") + e.what() + "): loading from the checkpoint");
    d.load(ws, st, lo);
    return "unavailable";
  }
  const std::string name = io::ModelCache::entry_name("dit", key);
  std::string note;
  if (auto f = cache->find("dit", key, &note)) {
    try {
      d.load_ready(*f, st, lo);
      return "hit: " + name + " in " + cache->describe();
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kOutOfMemory) throw;
      cache->remove(name);
      notice("model cache: entry " + name + " could not be loaded (" + e.what() +
             "); removed, converting from the checkpoint");
    }
  } else if (!note.empty()) {
    notice(note);
  }
  d.load(ws, st, lo);
  if (!write) return "miss (read-only use)";
  const auto t0 = std::chrono::steady_clock::now();
  note.clear();
  const bool stored = cache->store(
      "dit", key, d.load_ready_entries(), [&](size_t i) { return d.load_ready_tensor(i, st); },
      {{"format", weight_format_name(lo.format)}, {"source", files.empty() ? "" : files.front() + (files.size() > 1 ? " (+" + std::to_string(files.size() - 1) + " files)" : "")}}, &note);
  if (write_s) *write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!stored) {
    notice(note);
    return "miss, not stored: " + note;
  }
  return "miss, stored: " + name + " in " + cache->describe();
}

}  // namespace wan22::cuda
