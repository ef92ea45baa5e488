// A file that holds named tensors (safetensors, PyTorch .pth). Loading is lazy, per tensor.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace wan22::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  Shape strides;            // in elements; contiguous for safetensors
  uint64_t byte_offset = 0;  // of element 0 within the file's data region (format-specific)
  uint64_t nbytes = 0;       // bytes the tensor's elements span
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const std::string& path() const = 0;
  virtual const char* format() const = 0;  // "safetensors", "pth"
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Returns the tensor in its stored dtype on the CPU (zero-copy view into the mapping when the
  // layout allows). Throws Error naming the file and tensor on corrupt data.
  virtual Tensor load(const TensorInfo& info) const = 0;
};

// Opens a single file by content sniffing (safetensors header or zip magic).
std::unique_ptr<TensorSource> open_tensor_file(const std::string& path);

}  // namespace wan22::io
