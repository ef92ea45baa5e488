#include "io/weight_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/status.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;

namespace wan22::io {

namespace {
bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
}  // namespace

std::unique_ptr<TensorSource> open_pth_file(const std::string& path);  // io/pth.cpp

std::unique_ptr<TensorSource> open_tensor_file(const std::string& path) {
  auto f = MappedFile::open(path);
  if (f->size() >= 4 && f->data()[0] == 'P' && f->data()[1] == 'K' && f->data()[2] == 3 &&
      f->data()[3] == 4) {
    return open_pth_file(path);
  }
  return SafetensorsFile::parse(f);
}

WeightStore WeightStore::open(const std::string& path) { return open_many({path}); }

WeightStore WeightStore::open_many(const std::vector<std::string>& paths) {
  WeightStore ws;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(ErrorCode::kNotFound, path + ": no such file or directory");
    if (!fs::is_directory(path, ec)) {
      ws.add_source(open_tensor_file(path));
      continue;
    }
    // A directory: the shard index if there is one, else every .safetensors file in it.
    std::vector<std::string> indexes, files;
    for (const auto& e : fs::directory_iterator(path)) {
      std::string n = e.path().filename().string();
      if (ends_with(n, ".safetensors.index.json")) indexes.push_back(e.path().string());
      else if (ends_with(n, ".safetensors") && e.is_regular_file()) files.push_back(e.path().string());
    }
    std::sort(indexes.begin(), indexes.end());
    std::sort(files.begin(), files.end());
    if (!indexes.empty()) {
      if (indexes.size() > 1) {
        throw Error(ErrorCode::kInvalidArgument, path + ": more than one *.safetensors.index.json");
      }
      nlohmann::json idx;
      try {
        std::ifstream in(indexes[0]);
        idx = nlohmann::json::parse(in);
      } catch (const std::exception& e) {
        throw Error(ErrorCode::kCorruptData, indexes[0] + ": not valid JSON (" + e.what() + ")");
      }
      if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object()) {
        throw Error(ErrorCode::kCorruptData, indexes[0] + ": no weight_map object");
      }
      std::set<std::string> shards;
      for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
        if (!it.value().is_string()) {
          throw Error(ErrorCode::kCorruptData, indexes[0] + ": weight_map entry '" + it.key() + "' is not a file name");
        }
        shards.insert(it.value().get<std::string>());
      }
      std::vector<std::string> missing;
      for (const auto& s : shards) {
        if (s.find('/') != std::string::npos || s.find("..") != std::string::npos) {
          throw Error(ErrorCode::kCorruptData, indexes[0] + ": shard name '" + s + "' is not a plain file name");
        }
        if (!fs::exists(fs::path(path) / s)) missing.push_back(s);
      }
      if (!missing.empty()) {
        std::string m;
        for (const auto& s : missing) m += (m.empty() ? "" : ", ") + s;
        throw Error(ErrorCode::kNotFound, indexes[0] + ": missing shard(s) " + m + " in " + path);
      }
      for (const auto& s : shards) ws.add_source(open_tensor_file((fs::path(path) / s).string()));
      for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
        auto f = ws.index_.find(it.key());
        if (f == ws.index_.end()) {
          throw Error(ErrorCode::kCorruptData, indexes[0] + ": tensor '" + it.key() + "' is not in its shard " +
                                                   it.value().get<std::string>());
        }
      }
    } else if (!files.empty()) {
      for (const auto& f : files) ws.add_source(open_tensor_file(f));
    } else {
      throw Error(ErrorCode::kNotFound, path + ": no *.safetensors files or shard index in directory");
    }
  }
  return ws;
}

void WeightStore::add_source(std::shared_ptr<TensorSource> src) {
  for (const auto& t : src->tensors()) {
    auto [it, inserted] = index_.emplace(t.name, std::make_pair(src.get(), &t));
    if (!inserted) {
      throw Error(ErrorCode::kCorruptData, "tensor '" + t.name + "' appears in both " +
                                               it->second.first->path() + " and " + src->path());
    }
  }
  sources_.push_back(std::move(src));
}

bool WeightStore::contains(const std::string& key) const { return index_.count(resolve(key)) > 0; }

std::vector<std::string> WeightStore::keys() const {
  std::vector<std::string> k;
  k.reserve(index_.size());
  for (const auto& [name, v] : index_) k.push_back(name);
  return k;
}

const TensorInfo& WeightStore::info(const std::string& key) const {
  std::string stored = resolve(key);
  auto it = index_.find(stored);
  if (it == index_.end()) {
    std::string where = sources_.empty() ? std::string("empty store") : sources_.front()->path();
    if (sources_.size() > 1) where += " (+" + std::to_string(sources_.size() - 1) + " more files)";
    throw Error(ErrorCode::kNotFound, "weight '" + key + "'" + (stored != key ? " (stored as '" + stored + "')" : "") +
                                          " not found in " + where);
  }
  return *it->second.second;
}

std::string WeightStore::file_of(const std::string& key) const {
  info(key);
  return index_.at(resolve(key)).first->path();
}

Tensor WeightStore::get(const std::string& key) const {
  const TensorInfo& i = info(key);
  return index_.at(resolve(key)).first->load(i);
}

Tensor WeightStore::get(const std::string& key, DType dt) const { return get(key).to(dt); }

Tensor WeightStore::get_f32(const std::string& key, const Shape& expect) const {
  const TensorInfo& i = info(key);
  if (i.shape != expect) {
    throw Error(ErrorCode::kInvalidArgument, "weight '" + key + "' in " + file_of(key) + " has shape " +
                                                 shape_str(i.shape) + ", expected " + shape_str(expect));
  }
  return get_f32(key);
}

uint64_t WeightStore::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [k, v] : index_) n += v.second->nbytes;
  return n;
}

}  // namespace wan22::io
