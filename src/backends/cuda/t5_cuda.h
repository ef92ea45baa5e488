// The UMT5 / T5 text encoder (official wan/modules/t5.py T5Encoder) on the GPU.
//
//   x = token_embedding(ids)                                  fp32 residual stream [B*L, dim]
//   per block: x += o(attn(rms1(x) q|k|v, pos_bias, mask))     no 1/sqrt(d) scaling (T5)
//              x += fc2(gelu_tanh(gate(rms2(x))) * fc1(rms2(x)))
//   out = rms(x) * norm.weight                                 fp32
//
// Precision: linear weights bf16 on the device (q|k|v stored concatenated [3*dim_attn, dim], gate|fc1
// as [2*dim_ffn, dim], so each is one cuBLASLt GEMM), bf16 activations into the GEMMs with fp32
// accumulation, RMSNorm weights and relative-position tables fp32, residual stream fp32, softmax in
// fp32. Attention: per batch item two strided-batched cuBLAS GEMMs over the heads (scores in fp32
// [B, H, L, L], probabilities bf16) with a fused bias + key-mask + softmax kernel between them; any
// head dim, any length (the scores buffer grows as B*H*L^2: meant for L <= 512).
//
// Built from the same WeightStore + T5Config as the CPU models::text::T5Encoder: official key names;
// a transformers/Diffusers text_encoder/ maps through install_t5_key_map (models/text/t5_key_alias.h).
//
// Streams and lifetime: every entry point enqueues its work on `stream`; results are device tensors
// from the caching allocator, valid once the stream reaches that point (synchronise or order later
// work on the same stream). Intermediates are freed during a call and reused on the same stream,
// so use one stream per T5Cuda at a time (the class is not thread-safe). Small host inputs (ids,
// mask, buckets) are uploaded and the stream synchronised at the start of a call.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/kernels.h"
#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/text/t5_config.h"

namespace wan22::cuda {

struct T5CudaOptions {
  // Keep the token embedding (vocab x dim, 2.1 GB for UMT5-XXL) in host memory and gather the rows of
  // each call there (the rows then travel to the device: L * dim * 4 bytes). Saves its VRAM.
  bool embedding_on_host = false;
};

class T5Cuda {
 public:
  // Uploads every weight of `ws` (official names resolved through its key map) to the device.
  // Throws Error naming the key, the file and both shapes when a weight is missing or mis-shaped.
  // Uses `stream` for the uploads and synchronises it before returning.
  T5Cuda(const io::WeightStore& ws, const models::text::T5Config& cfg, cudaStream_t stream = nullptr,
         T5CudaOptions opt = {});
  // Random weights at cfg's sizes filled on the device (benchmarks): uniform(+-sqrt(3/fan_in)) for
  // the linears, uniform(-1, 1) embedding, norm weights in [0.9, 1.1], position tables in +-0.5.
  T5Cuda(const models::text::T5Config& cfg, uint64_t seed, cudaStream_t stream = nullptr);
  ~T5Cuda();
  T5Cuda(const T5Cuda&) = delete;
  T5Cuda& operator=(const T5Cuda&) = delete;

  // Opens a checkpoint (file or directory), installs the T5 key map and reads the config from
  // config_json (official or transformers config.json) or from the tensor shapes when empty.
  static std::unique_ptr<T5Cuda> load(const std::string& weights_path, const std::string& config_json = "",
                                      cudaStream_t stream = nullptr, T5CudaOptions opt = {});

  const models::text::T5Config& config() const { return cfg_; }

  // ids [B, L] host tensor (int32/int64 or integral floats, each in [0, vocab)), mask [B, L] host
  // (0 = padding, else real; any pattern, not only a prefix) or undefined = all real.
  // Returns f32 [B, L, dim] ON THE DEVICE for every position, as T5Encoder::forward.
  Tensor forward(const Tensor& ids, const Tensor& mask, cudaStream_t stream);

  // One sequence: ids [L] or [1, L] (mask likewise or undefined). Returns f32 [L, dim] on the device.
  Tensor encode(const Tensor& ids, const Tensor& mask, cudaStream_t stream);

  // What T5Encoder::encode_trimmed returns (per row: the first n_real rows, n_real = number of mask
  // entries > 0), as f32 [n_real, dim] DEVICE tensors (n_real = 0: an empty [0, dim] tensor).
  // When every row's mask is a prefix (real tokens, then padding: what the tokenizer produces) the
  // rows run together as one batch cut to the longest n_real (the padding of shorter rows is masked),
  // so a prompt and a negative prompt cost one weight pass. Other masks run row by row over the full
  // length with their mask, like the CPU encoder.
  std::vector<Tensor> encode_trimmed(const Tensor& ids, const Tensor& mask, cudaStream_t stream);

  // FLOPs of one forward of `batch` sequences of `len` tokens (GEMMs + attention), for TFLOP/s reports.
  double flops(int64_t batch, int64_t len) const;
  // Bytes of the weights held on the device.
  uint64_t device_weight_bytes() const;

 private:
  struct Block {
    Tensor norm1, norm2;  // f32 [dim]
    Tensor qkv;           // bf16 [3 * dim_attn, dim]  (q | k | v)
    Tensor o;             // bf16 [dim, dim_attn]
    Tensor ffn_in;        // bf16 [2 * dim_ffn, dim] (gate.0 | fc1)
    Tensor fc2;           // bf16 [dim, dim_ffn]
  };

  // cuBLAS handle (strided-batched attention GEMMs), destroyed with the object or a failed constructor.
  struct BlasHandle {
    cublasHandle_t h = nullptr;
    BlasHandle();
    ~BlasHandle();
    BlasHandle(const BlasHandle&) = delete;
    BlasHandle& operator=(const BlasHandle&) = delete;
  };

  void upload_positions_for(int64_t len, cudaStream_t stream);
  void embed(const std::vector<int32_t>& ids, Tensor& x, cudaStream_t stream);
  void attention(const Tensor& qkv, const Tensor& pos_table, const uint8_t* keep, int64_t batch, int64_t len,
                 Tensor& attn_out, cudaStream_t stream);
  Tensor run(const std::vector<int32_t>& ids, const std::vector<uint8_t>& keep, int64_t batch, int64_t len,
             cudaStream_t stream);

  models::text::T5Config cfg_;
  T5CudaOptions opt_;
  Tensor embedding_;      // bf16 [vocab, dim], device (or host with embedding_on_host)
  Tensor pos_tables_;     // f32 [layers or 1, num_buckets, heads], device
  std::vector<Block> blocks_;
  Tensor final_norm_;     // f32 [dim]
  LtGemm gemm_;
  BlasHandle blas_;
  int64_t buckets_len_ = -1;
  Tensor buckets_;        // int32 [2 * len - 1] device: bucket of offset (key - query) + len - 1
};

// The DiT's text context from encoder rows: bf16 [text_len, dim] = rows (f32 [n, dim], device) then
// zero rows (the official pipeline's padding of each prompt to text_len). n > text_len is an error.
void t5_context_bf16(const Tensor& rows, int64_t text_len, bf16* out, cudaStream_t stream);

}  // namespace wan22::cuda
