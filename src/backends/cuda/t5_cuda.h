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
// Placement (T5CudaOptions, set_resident_layers, offload/restore): each layer's weights are one
// contiguous pack (t5_stream.h), resident on the device or in pinned host memory; streamed layers are
// copied into two device slots on a copy stream, layer i+1 while layer i computes, ordered by events
// (no host synchronisation per layer). The slots come from the caching allocator at the start of a
// call that streams and go back at its end, so between calls a fully streamed / offloaded encoder
// holds (next to) nothing on the device. docs/models/text_cuda.md has the memory and time figures.
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
#include "backends/cuda/t5_stream.h"
#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/text/t5_config.h"

namespace wan22::cuda {

struct T5CudaOptions {
  // Keep the token embedding (vocab x dim, 2.1 GB for UMT5-XXL) in host memory and gather the rows of
  // each call there (the rows then travel to the device: L * dim * 4 bytes). Saves its VRAM.
  bool embedding_on_host = false;
  // Layers [0, resident_layers) stay on the device, the rest live in pinned host memory and are
  // streamed through two device slots during each call (layer i+1 copied on a copy stream while
  // layer i computes). -1 (or >= num_layers): all resident. Changeable with set_resident_layers().
  // With resident_layers = 0 and embedding_on_host the encoder holds only the final norm (and T5's
  // shared position table) on the device between calls: dim * 4 (+ buckets * heads * 4) bytes.
  int resident_layers = -1;
};

class T5Cuda {
 public:
  // Reads every weight of `ws` (official names resolved through its key map) and places it as `opt`
  // says (device, or pinned host for streamed layers). Throws Error naming the key, the file and
  // both shapes when a weight is missing or mis-shaped. Uses `stream` for the uploads and
  // synchronises it before returning.
  T5Cuda(const io::WeightStore& ws, const models::text::T5Config& cfg, cudaStream_t stream = nullptr,
         T5CudaOptions opt = {});
  // Random weights at cfg's sizes (benchmarks), filled on the device and placed as `opt` says (the
  // same values whatever the placement): uniform(+-sqrt(3/fan_in)) for the linears, uniform(-1, 1)
  // embedding, norm weights in [0.9, 1.1], position tables in +-0.5. Streamed layers and a host
  // embedding are generated through one device scratch buffer of one layer / 8192 embedding rows.
  T5Cuda(const models::text::T5Config& cfg, uint64_t seed, cudaStream_t stream = nullptr, T5CudaOptions opt = {});
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
  // Every placement (resident, streamed, offloaded) gives the same bits: the same kernels and GEMM
  // shapes run, only the weights' addresses differ.
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

  // ---- where the weights live ----
  // Moves layer packs between the device and pinned host memory so that layers [0, n) are resident
  // and the rest streamed (n < 0 or n >= num_layers: all resident). Synchronises `stream`. On an
  // offloaded encoder it only records n as the residency restore() returns to. When the device
  // memory for the uploads is not available it throws (the caching allocator's kOutOfMemory) and
  // the encoder stays usable: resident_layers() then says how many layers did stay on the device.
  void set_resident_layers(int n, cudaStream_t stream);
  // The residency asked for (constructor option or set_resident_layers), offloaded or not.
  int resident_layers() const { return resident_; }
  // Whole-component offload: every device weight (layers, embedding, final norm, position tables,
  // the cached bucket table) moves to pinned host memory and its device memory goes back to the
  // caching allocator. forward/encode/encode_trimmed keep working on an offloaded encoder, fully
  // streamed (every layer through the two slots, the embedding gathered on the host): the same
  // bits, slower. restore() brings the weights back to the residency in force before (or set while
  // offloaded). Both synchronise `stream`; calling either twice does nothing the second time. A
  // restore() without the device memory for it throws and leaves the encoder offloaded (usable).
  void offload(cudaStream_t stream);
  void restore(cudaStream_t stream);
  bool offloaded() const { return offloaded_; }
  // Bytes of weights held on the device between calls / in host memory (pinned packs, the host
  // embedding). Streaming slots are not weights held: they are allocated from the caching allocator
  // at the start of each call that streams and released at its end (stream_slot_bytes()).
  size_t device_weight_bytes() const;
  size_t host_weight_bytes() const;
  // Bytes of one layer's pack (its four matrices, two norms and its position table, 256-byte aligned).
  size_t layer_pack_bytes() const;
  // Device bytes a call adds for streaming in the current placement: min(2, streamed layers) packs.
  size_t stream_slot_bytes() const;

  // GEMM algorithm choice (on by default): the first call of each GEMM shape times the cuBLASLt
  // heuristic's candidates and keeps the fastest, per encoder. Placements of ONE encoder always give
  // the same bits; two encoders may pick different algorithms for a shape (timing noise) and then
  // differ in the last bits. Off: the heuristic's first candidate (deterministic), for comparing two
  // encoders bit for bit. Set it before the first call.
  void set_gemm_autotune(bool on) { gemm_.set_autotune(on); }

  // FLOPs of one forward of `batch` sequences of `len` tokens (GEMMs + attention), for TFLOP/s reports.
  double flops(int64_t batch, int64_t len) const;

 private:
  // One layer's weights: views into its pack (device or pinned host) or into a streaming slot.
  struct Block {
    Tensor norm1, norm2;  // f32 [dim]
    Tensor qkv;           // bf16 [3 * dim_attn, dim]  (q | k | v)
    Tensor o;             // bf16 [dim, dim_attn]
    Tensor ffn_in;        // bf16 [2 * dim_ffn, dim] (gate.0 | fc1)
    Tensor fc2;           // bf16 [dim, dim_ffn]
    Tensor pos;           // f32 [num_buckets, heads] (UMT5: per layer; undefined with shared_pos)
  };
  // The weights outside the layers (embedding aside): views into globals_.
  struct Globals {
    Tensor final_norm;    // f32 [dim]
    Tensor shared_pos;    // f32 [num_buckets, heads] (shared_pos only)
  };

  // cuBLAS handle (strided-batched attention GEMMs), destroyed with the object or a failed constructor.
  struct BlasHandle {
    cublasHandle_t h = nullptr;
    BlasHandle();
    ~BlasHandle();
    BlasHandle(const BlasHandle&) = delete;
    BlasHandle& operator=(const BlasHandle&) = delete;
  };

  void make_layouts();
  int device_layers() const;  // layers on the device now: 0 when offloaded
  // Places every weight: layers [0, n_device) on the device, the rest pinned host; the embedding
  // (unless embedding_on_host) and the globals on the device or pinned host. Device-to-host moves
  // go first (their device memory is freed before any host-to-device move allocates). Synchronises.
  void place(int n_device, bool embedding_device, bool globals_device, cudaStream_t stream);
  void upload_positions_for(int64_t len, cudaStream_t stream);
  void embed(const std::vector<int32_t>& ids, Tensor& x, cudaStream_t stream);
  void attention(const Tensor& qkv, const Tensor& pos_table, const uint8_t* keep, int64_t batch, int64_t len,
                 Tensor& attn_out, cudaStream_t stream);
  Tensor run(const std::vector<int32_t>& ids, const std::vector<uint8_t>& keep, int64_t batch, int64_t len,
             cudaStream_t stream);

  models::text::T5Config cfg_;
  T5CudaOptions opt_;
  t5::PackLayout<Block> layer_layout_;
  t5::PackLayout<Globals> globals_layout_;
  Tensor embedding_;             // bf16 [vocab, dim]: device, pageable host (embedding_on_host) or pinned (offloaded)
  std::vector<Tensor> packs_;    // one u8 pack per layer: device or pinned host
  std::vector<Block> blocks_;    // views into packs_
  Tensor globals_;               // u8 pack: final norm (+ shared position table), device or pinned host
  Globals globals_view_;
  int resident_ = 0;             // layers [0, resident_) on the device when not offloaded
  bool offloaded_ = false;
  std::unique_ptr<t5::LayerStreamer> streamer_;  // created by the first call that streams
  LtGemm gemm_;
  BlasHandle blas_;
  int64_t buckets_len_ = -1;
  Tensor buckets_;        // int32 [2 * len - 1] device: bucket of offset (key - query) + len - 1
};

// The DiT's text context from encoder rows: bf16 [text_len, dim] = rows (f32 [n, dim], device) then
// zero rows (the official pipeline's padding of each prompt to text_len). n > text_len is an error.
void t5_context_bf16(const Tensor& rows, int64_t text_len, bf16* out, cudaStream_t stream);

}  // namespace wan22::cuda
