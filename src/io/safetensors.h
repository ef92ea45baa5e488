// safetensors: 8-byte little-endian header length, JSON header, then the data region.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "io/mapped_file.h"
#include "io/tensor_source.h"

namespace wan22::io {

class SafetensorsFile final : public TensorSource {
 public:
  // Parses and validates the header (every offset inside the file, no overlaps, sizes matching
  // shape x dtype). Throws Error(kCorruptData / kUnsupported) naming the file and tensor.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  // Same, over bytes already in memory (used by the fuzzer); `name` is used in messages.
  static std::unique_ptr<SafetensorsFile> parse(std::shared_ptr<MappedFile> file);

  const std::string& path() const override { return path_; }
  const char* format() const override { return "safetensors"; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  Tensor load(const TensorInfo& info) const override;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  std::shared_ptr<MappedFile> file_;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Parses a sharded checkpoint's *.safetensors.index.json: tensor name -> shard file name (a plain
// file name, no directories). Throws Error(kCorruptData) naming `path` on malformed JSON, a
// missing weight_map, non-string or path-like shard names and keys listed twice.
std::map<std::string, std::string> parse_safetensors_index(const std::string& path, const uint8_t* data, size_t size);

// Writes tensors (any dtype, CPU) to a safetensors file; for tests, caches and tools.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace wan22::io
