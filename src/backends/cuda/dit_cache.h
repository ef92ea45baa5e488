// The CUDA DiT through the model cache (io/model_cache.h, the guide's model_caching.*): a valid
// entry of the checkpoint's DiT in the wanted format loads straight from its mapping
// (DitCuda::load_ready); otherwise the checkpoint is converted (DitCuda::load) and the result is
// written as an entry for the next load.
#pragma once
#include <cuda_runtime.h>

#include <functional>
#include <string>
#include <vector>

#include "backends/cuda/dit_cuda.h"
#include "io/model_cache.h"

namespace wan22::io {
class WeightStore;
}

namespace wan22::cuda {

// Fills `dit` from `ws` as `lo` says. With cache.enabled off this is dit.load(ws, ...). Returns what
// the cache did: "" (off), "hit: <entry> in <where>", "miss, stored: <entry> in <where>",
// "miss, not stored: <why>" or "unavailable"; every problem (unusable directory, corrupt entry,
// entry over the limit, full disk) goes to `notice` and the load goes on from the checkpoint.
// *write_s (optional): seconds spent writing the entry. Out-of-memory errors propagate.
// write = false: an entry is used when there is one, none is written (a one-off load, e.g. the
// quantization check's bf16 reference, must not evict the entry the generation uses).
std::string load_dit_cached(DitCuda& dit, const io::WeightStore& ws, const DitLoadOptions& lo,
                            const io::ModelCacheOptions& cache, cudaStream_t stream,
                            const std::function<void(const std::string&)>& notice, double* write_s = nullptr,
                            bool write = true);

// The checkpoint files `ws` serves the DiT's weights from (the cache key's sources; a checkpoint
// directory may also hold the VAE and the text encoder, which do not belong in the key).
std::vector<std::string> dit_source_files(const DitCuda& dit, const io::WeightStore& ws);

}  // namespace wan22::cuda
