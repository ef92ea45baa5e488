#include "backends/cuda/dit_cache.h"

#include <chrono>
#include <optional>
#include <vector>

#include "core/status.h"
#include "io/weight_store.h"

namespace wan22::cuda {

namespace {
const char* format_name(WeightFormat f) {
  return f == WeightFormat::kFP8 ? "fp8" : f == WeightFormat::kInt8 ? "int8" : "bf16";
}
}  // namespace

std::string load_dit_cached(DitCuda& d, const io::WeightStore& ws, const DitLoadOptions& lo,
                            const io::ModelCacheOptions& opts, cudaStream_t st,
                            const std::function<void(const std::string&)>& notice, double* write_s) {
  if (write_s) *write_s = 0;
  if (!opts.enabled) {
    d.load(ws, st, lo);
    return "";
  }
  std::optional<io::ModelCache> cache;
  std::string key;
  try {
    cache.emplace(io::ModelCache::from_options(opts));
    std::vector<std::string> files;
    for (const auto& src : ws.sources()) files.push_back(src->path());
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
  const auto t0 = std::chrono::steady_clock::now();
  note.clear();
  const bool stored = cache->store(
      "dit", key, d.load_ready_entries(), [&](size_t i) { return d.load_ready_tensor(i, st); },
      {{"format", format_name(lo.format)}, {"source", ws.sources().empty() ? "" : ws.sources()[0]->path()}}, &note);
  if (write_s) *write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!stored) {
    notice(note);
    return "miss, not stored: " + note;
  }
  return "miss, stored: " + name + " in " + cache->describe();
}

}  // namespace wan22::cuda
