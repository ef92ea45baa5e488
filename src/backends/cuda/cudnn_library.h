// libcudnn.so.9, opened once at run time and shared by every cuDNN user (fused attention,
// convolutions): the build needs no cuDNN at link time, and a machine without it gets a reason.
#pragma once
#include <dlfcn.h>

#include <string>

namespace wan22::cuda {

struct CudnnLibrary {
  void* handle = nullptr;  // dlopen handle; nullptr when not found
  std::string path;        // the candidate that opened
  std::string error;       // why it is unavailable (every candidate tried, with dlerror)
};

// Tries $WAN22_CUDNN, then the usual install places. Never closed (lives as long as the process).
const CudnnLibrary& cudnn_library();

// Looks `name` up in a.lib into `f`; on failure sets a.error naming the symbol and a.path.
// `Api` is a per-user table of function pointers with members lib, path and error.
template <class Api, class F>
bool cudnn_symbol(Api& a, F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(a.lib, name));
  if (!f) a.error = std::string("symbol ") + name + " missing in " + a.path;
  return f != nullptr;
}

}  // namespace wan22::cuda
