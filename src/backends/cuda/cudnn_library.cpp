#include "backends/cuda/cudnn_library.h"

#include <cstdlib>
#include <vector>

namespace wan22::cuda {

const CudnnLibrary& cudnn_library() {
  static const CudnnLibrary lib = [] {
    CudnnLibrary r;
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("WAN22_CUDNN")) candidates.emplace_back(env);
    candidates.insert(
        candidates.end(),
        {"libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9",
         "/usr/local/cuda/lib/libcudnn.so.9", "/usr/lib/x86_64-linux-gnu/libcudnn.so.9",
         "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9",
         "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcudnn.so.9"});
    std::string tried;
    for (const auto& c : candidates) {
      r.handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (r.handle) {
        r.path = c;
        return r;
      }
      const char* e = dlerror();
      tried += "\n  " + c + ": " + (e ? e : "?");
    }
    r.error = "libcudnn.so.9 not found (set WAN22_CUDNN):" + tried;
    return r;
  }();
  return lib;
}

}  // namespace wan22::cuda
