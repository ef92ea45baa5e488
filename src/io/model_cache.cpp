#include "io/model_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/status.h"
#include "io/mapped_file.h"

namespace wan22::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSuffix = ".wan22.safetensors";
constexpr const char* kKeyField = "wan22_cache_key";
constexpr const char* kVersionField = "wan22_cache_version";
constexpr const char* kVersion = "1";

// FNV-1a, 64 bit: names entries (the whole key is checked on every find).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string gib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1024.0 * 1024 * 1024));
  return buf;
}

// The process-wide RAM store.
struct RamEntry {
  std::shared_ptr<MappedFile> image;
  uint64_t last_used = 0;
  std::map<std::string, std::string> metadata;
};
struct RamStore {
  std::mutex mu;
  std::map<std::string, RamEntry> entries;
  uint64_t clock = 0;
};
RamStore& ram() {
  static RamStore s;
  return s;
}

bool is_entry_file(const fs::path& p) {
  const std::string n = p.filename().string();
  const std::string suf = kSuffix;
  return n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0;
}

bool is_stale_temporary(const fs::path& p) {
  return p.filename().string().find(std::string(kSuffix) + ".tmp.") != std::string::npos;
}

double mtime_seconds(const fs::path& p) {
  struct stat sb {};
  if (::stat(p.c_str(), &sb) != 0) return 0;
  return static_cast<double>(sb.st_mtim.tv_sec) + 1e-9 * static_cast<double>(sb.st_mtim.tv_nsec);
}

}  // namespace

std::string default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/wan22";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::string(home) + "/.cache/wan22";
  throw Error(ErrorCode::kNotFound,
              "model cache: neither XDG_CACHE_HOME nor HOME is set; give model_caching.cache_location a directory");
}

ModelCache::ModelCache(std::string dir, uint64_t limit_bytes) : dir_(std::move(dir)), limit_(limit_bytes) {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_)) {
    throw Error(ErrorCode::kIoError, "model cache: cannot use directory '" + dir_ + "'" +
                                         (ec ? " (" + ec.message() + ")" : std::string(" (not a directory)")));
  }
}

ModelCache ModelCache::from_options(const ModelCacheOptions& o) {
  const double lim = std::max(0.0, o.size_gb) * 1024.0 * 1024.0 * 1024.0;
  const uint64_t limit = static_cast<uint64_t>(lim);
  if (o.location == "ram") return ModelCache("", limit);
  if (o.location == "ssd" || o.location.empty()) return ModelCache(default_cache_dir(), limit);
  return ModelCache(o.location, limit);
}

std::string ModelCache::describe() const {
  return (in_ram() ? std::string("RAM") : dir_) + " (limit " + gib(limit_) + ")";
}

std::string ModelCache::key_for(const std::vector<std::string>& sources, const std::string& conversion) {
  std::vector<std::string> parts;
  for (const std::string& s : sources) {
    std::error_code ec;
    const fs::path canon = fs::canonical(s, ec);
    struct stat sb {};
    if (ec || ::stat(canon.c_str(), &sb) != 0) {
      throw Error(ErrorCode::kNotFound, "model cache: source '" + s + "' not found");
    }
    parts.push_back(canon.string() + " " + std::to_string(static_cast<long long>(sb.st_size)) + " " +
                    std::to_string(static_cast<long long>(sb.st_mtim.tv_sec)) + "." +
                    std::to_string(static_cast<long long>(sb.st_mtim.tv_nsec)));
  }
  std::sort(parts.begin(), parts.end());
  std::string key = std::string("v") + kVersion + "; " + conversion;
  for (const auto& p : parts) key += "; " + p;
  return key;
}

std::string ModelCache::entry_name(const std::string& component, const std::string& key) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  return component + "-" + buf;
}

std::string ModelCache::path_of(const std::string& name) const { return dir_ + "/" + name + kSuffix; }

std::unique_ptr<SafetensorsFile> ModelCache::find(const std::string& component, const std::string& key,
                                                  std::string* note) {
  const std::string name = entry_name(component, key);
  std::unique_ptr<SafetensorsFile> f;
  std::string where;
  if (in_ram()) {
    RamStore& s = ram();
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.entries.find(name);
    if (it == s.entries.end()) return nullptr;
    it->second.last_used = ++s.clock;
    f = SafetensorsFile::parse(it->second.image);
    where = "RAM";
  } else {
    const std::string path = path_of(name);
    if (!fs::exists(path)) return nullptr;
    try {
      f = SafetensorsFile::open(path);
    } catch (const Error& e) {
      std::error_code ec;
      fs::remove(path, ec);
      if (note) *note = "model cache: entry " + name + " was unreadable and is removed (" + e.what() + ")";
      return nullptr;
    }
    where = path;
  }
  const auto& md = f->metadata();
  auto k = md.find(kKeyField);
  auto v = md.find(kVersionField);
  if (k == md.end() || k->second != key || v == md.end() || v->second != kVersion) {
    remove(name);
    if (note) *note = "model cache: entry " + name + " holds another conversion (key or version differs) and is removed";
    return nullptr;
  }
  if (!in_ram()) ::utimensat(AT_FDCWD, where.c_str(), nullptr, 0);  // now: most recently used
  return f;
}

void ModelCache::evict_for(uint64_t incoming, const std::string& keep, std::vector<std::string>* evicted) {
  std::vector<CacheEntryInfo> all = list();  // most recent first
  uint64_t total = 0;
  for (const auto& e : all) total += e.bytes;
  while (total + incoming > limit_ && !all.empty()) {
    const CacheEntryInfo victim = all.back();
    all.pop_back();
    if (victim.name == keep) continue;
    if (remove(victim.name)) {
      total -= std::min(total, victim.bytes);
      evicted->push_back(victim.name);
    }
  }
}

bool ModelCache::store(const std::string& component, const std::string& key,
                       const std::vector<SafetensorsEntry>& entries, const SafetensorsFill& fill,
                       std::map<std::string, std::string> metadata, std::string* note) {
  const std::string name = entry_name(component, key);
  metadata[kKeyField] = key;
  metadata[kVersionField] = kVersion;
  metadata["wan22_component"] = component;
  const uint64_t bytes = safetensors_file_bytes(entries, metadata);
  if (bytes > limit_) {
    if (note) {
      *note = "model cache: " + component + " (" + gib(bytes) + ") is larger than the cache limit (" + gib(limit_) +
              ", model_caching.cache_size_gb); not cached";
    }
    return false;
  }
  remove(name);  // an older entry of the same name (it would be replaced anyway)
  std::vector<std::string> evicted;
  if (in_ram()) {
    // Built outside the lock (it may take seconds), then inserted.
    std::vector<uint8_t> image = safetensors_bytes(entries, fill, metadata);
    RamStore& s = ram();
    std::lock_guard<std::mutex> lock(s.mu);
    uint64_t total = 0;
    for (const auto& [n, e] : s.entries) total += e.image->size();
    while (total + bytes > limit_ && !s.entries.empty()) {
      auto oldest = std::min_element(s.entries.begin(), s.entries.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      total -= oldest->second.image->size();
      evicted.push_back(oldest->first);
      s.entries.erase(oldest);
    }
    RamEntry e;
    e.image = MappedFile::from_bytes("model cache (RAM) " + name, std::move(image));
    e.last_used = ++s.clock;
    e.metadata = metadata;
    s.entries[name] = std::move(e);
  } else {
    evict_for(bytes, name, &evicted);
    try {
      write_safetensors_streamed(path_of(name), entries, fill, metadata);
    } catch (const Error& e) {
      if (note) *note = "model cache: could not write " + component + " (" + e.what() + "); not cached";
      return false;
    }
  }
  if (note) {
    *note = "model cache: " + component + " stored as " + name + " (" + gib(bytes) + ") in " + describe();
    if (!evicted.empty()) {
      *note += "; evicted";
      for (const auto& n : evicted) *note += " " + n;
    }
  }
  return true;
}

std::vector<CacheEntryInfo> ModelCache::list() const {
  std::vector<CacheEntryInfo> out;
  if (in_ram()) {
    RamStore& s = ram();
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto& [n, e] : s.entries) {
      out.push_back({n, "", e.image->size(), static_cast<double>(e.last_used), e.metadata});
    }
  } else {
    std::error_code ec;
    for (const auto& de : fs::directory_iterator(dir_, ec)) {
      if (!de.is_regular_file() || !is_entry_file(de.path())) continue;
      CacheEntryInfo info;
      const std::string fn = de.path().filename().string();
      info.name = fn.substr(0, fn.size() - std::strlen(kSuffix));
      info.path = de.path().string();
      info.bytes = static_cast<uint64_t>(de.file_size(ec));
      info.last_used = mtime_seconds(de.path());
      try {
        info.metadata = SafetensorsFile::open(info.path)->metadata();
      } catch (const Error&) {
        info.metadata["problem"] = "unreadable";
      }
      out.push_back(std::move(info));
    }
  }
  std::sort(out.begin(), out.end(), [](const CacheEntryInfo& a, const CacheEntryInfo& b) {
    return a.last_used > b.last_used || (a.last_used == b.last_used && a.name < b.name);
  });
  return out;
}

uint64_t ModelCache::total_bytes() const {
  uint64_t t = 0;
  for (const auto& e : list()) t += e.bytes;
  return t;
}

bool ModelCache::remove(const std::string& name) {
  if (in_ram()) {
    RamStore& s = ram();
    std::lock_guard<std::mutex> lock(s.mu);
    return s.entries.erase(name) > 0;
  }
  std::error_code ec;
  return fs::remove(path_of(name), ec);
}

size_t ModelCache::clear() {
  size_t n = 0;
  if (in_ram()) {
    RamStore& s = ram();
    std::lock_guard<std::mutex> lock(s.mu);
    n = s.entries.size();
    s.entries.clear();
    return n;
  }
  std::error_code ec;
  std::vector<fs::path> victims;
  for (const auto& de : fs::directory_iterator(dir_, ec)) {
    if (de.is_regular_file() && (is_entry_file(de.path()) || is_stale_temporary(de.path()))) {
      victims.push_back(de.path());
    }
  }
  for (const auto& p : victims) {
    if (fs::remove(p, ec) && is_entry_file(p)) ++n;
  }
  return n;
}

}  // namespace wan22::io
