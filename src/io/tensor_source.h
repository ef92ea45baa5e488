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

// Opens a single file by content sniffing (zip magic: PyTorch; else safetensors).
std::unique_ptr<TensorSource> open_tensor_file(const std::string& path);

// A name from a file, made safe for a one-line message: control bytes become \xNN and names
// longer than 200 bytes are cut (a corrupt or hostile file can hold any bytes there).
inline std::string printable(const std::string& name) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace wan22::io
