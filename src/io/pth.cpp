#include <memory>
#include <string>

#include "core/status.h"
#include "io/tensor_source.h"

namespace wan22::io {
// Placeholder until the zip+pickle reader lands.
std::unique_ptr<TensorSource> open_pth_file(const std::string& path) {
  throw Error(ErrorCode::kUnsupported, path + ": PyTorch .pth reading is not implemented yet");
}
}  // namespace wan22::io
