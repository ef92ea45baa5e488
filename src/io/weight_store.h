// WeightStore: key -> tensor on demand over one file, a sharded directory or several files.
// Layers ask for the official (canonical) key names; a key map translates them to the names the
// checkpoint stores (Diffusers, ComfyUI prefixes: see models/key_aliases).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/tensor_source.h"

namespace wan22::io {

class WeightStore {
 public:
  WeightStore() = default;
  // path: a .safetensors / .pth / .pt file, a directory with *.safetensors.index.json (shards), or
  // a directory of .safetensors files. Throws Error naming what is missing or corrupt.
  static WeightStore open(const std::string& path);
  // Several files/directories merged into one key space (duplicate keys are an error).
  static WeightStore open_many(const std::vector<std::string>& paths);

  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;  // stored names, sorted
  const TensorInfo& info(const std::string& key) const;
  std::string file_of(const std::string& key) const;
  Tensor get(const std::string& key) const;            // stored dtype (zero-copy when possible)
  Tensor get(const std::string& key, DType dt) const;  // converted, contiguous
  Tensor get_f32(const std::string& key) const { return get(key, DType::kF32); }
  // get_f32 and check the shape; throws naming the key, the file and both shapes.
  Tensor get_f32(const std::string& key, const Shape& expect) const;

  // canonical key -> stored key (identity when unset). Applied by contains/info/get.
  void set_key_map(std::function<std::string(const std::string&)> map) { key_map_ = std::move(map); }
  std::string resolve(const std::string& key) const { return key_map_ ? key_map_(key) : key; }

  const std::vector<std::shared_ptr<TensorSource>>& sources() const { return sources_; }
  size_t size() const { return index_.size(); }
  uint64_t total_bytes() const;

 private:
  void add_source(std::shared_ptr<TensorSource> src);
  void add_directory(const std::string& path);
  std::vector<std::shared_ptr<TensorSource>> sources_;
  std::map<std::string, std::pair<const TensorSource*, const TensorInfo*>> index_;
  std::function<std::string(const std::string&)> key_map_;
};

}  // namespace wan22::io
