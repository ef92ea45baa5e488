// safetensors: 8-byte little-endian header length, JSON header, then the data region.
#pragma once
#include <functional>
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

// One tensor of a file written by write_safetensors_streamed: its name, dtype and shape.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
};
// Produces entry i's tensor (of the entry's dtype and element count; any device) when it is written.
using SafetensorsFill = std::function<Tensor(size_t i)>;

// Writes a safetensors file whose tensors are produced one at a time (so a file larger than the
// free host memory can be written), to `path`.tmp and then renamed into place: the file appears
// whole or not at all. Throws kIoError with the reason (e.g. "No space left on device") and leaves
// nothing behind; kInvalidArgument when a produced tensor does not match its entry.
void write_safetensors_streamed(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                                const SafetensorsFill& fill, const std::map<std::string, std::string>& metadata = {});
// The same file image in memory (the RAM model cache).
std::vector<uint8_t> safetensors_bytes(const std::vector<SafetensorsEntry>& entries, const SafetensorsFill& fill,
                                       const std::map<std::string, std::string>& metadata = {});
// Size in bytes of the file those entries make.
uint64_t safetensors_file_bytes(const std::vector<SafetensorsEntry>& entries,
                                const std::map<std::string, std::string>& metadata = {});

// Writes tensors (any dtype, CPU) to a safetensors file; for tests, caches and tools.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace wan22::io
