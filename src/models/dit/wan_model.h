// The Wan diffusion transformer (official WanModel) on the op layer: patch embedding, text and
// time embeddings (per-token timesteps, embedded once per distinct value), the attention blocks,
// the modulated head and unpatchify.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/dit/attention_block.h"
#include "models/dit/dit_config.h"
#include "models/dit/dit_layers.h"

namespace wan22::models::dit {

class WanModel {
 public:
  // Builds the model from `ws`, asking for the official key names (install a key map first for
  // other layouts: install_dit_key_map). Every weight's shape is checked against `cfg`; a missing
  // or misshapen weight throws Error naming the key and the file.
  static WanModel load(const io::WeightStore& ws, const DitConfig& cfg, const LoadOptions& opt = {});
  // A checkpoint directory: config.json + the weights (sharded index or *.safetensors), in the
  // official, Diffusers (transformer/) or ComfyUI layout.
  static WanModel load_dir(const std::string& dir, const LoadOptions& opt = {});

  // Batch 1, as the official forward with one video:
  //   x [C, F, H, W] (C + Cy == in_dim), t [1] / [] (all tokens) or [1, seq_len] / [seq_len]
  //   (per token), context [L, text_dim] (L <= text_len; zero-padded to text_len here),
  //   y [Cy, F, H, W] for i2v (else nullptr). seq_len <= 0 means "the token count".
  // Returns [out_dim, F, H, W].
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& context, const Tensor* y = nullptr,
                 int64_t seq_len = 0) const;
  // A batch of B videos of the same size (e.g. the CFG pair): x [B, C, F, H, W], t [B] / [1] or
  // [B, seq_len] / [1, seq_len], contexts: B tensors [L_i, text_dim], y [B, Cy, F, H, W] or
  // [1, Cy, F, H, W] or nullptr. Returns [B, out_dim, F, H, W]. The time embedding is computed
  // once per distinct timestep value over the whole batch.
  Tensor forward_batch(const Tensor& x, const Tensor& t, const std::vector<Tensor>& contexts,
                       const Tensor* y = nullptr, int64_t seq_len = 0) const;

  const DitConfig& config() const { return cfg_; }
  // Receives every named intermediate ("patch_embed", "time_embed", "time_proj", "text_embed",
  // "blocks.N.self_attn", ..., "head", "out"); empty to disable.
  void set_debug_hook(DebugHook hook) { hook_ = std::move(hook); }

 private:
  Tensor embed_text(const std::vector<Tensor>& contexts) const;  // -> [B, text_len, dim]
  void dump(const std::string& name, const Tensor& t) const {
    if (hook_) hook_(name, t);
  }

  DitConfig cfg_;
  Tensor patch_weight_;  // [dim, in_dim * pt * ph * pw] (the Conv3d kernel, flattened)
  Tensor patch_bias_;    // [dim]
  Linear text_embedding_0_, text_embedding_2_;
  Linear time_embedding_0_, time_embedding_2_;
  Linear time_projection_1_;
  std::vector<AttentionBlock> blocks_;
  LayerNorm head_norm_;
  Linear head_;
  Tensor head_modulation_;  // [1, 2, dim]
  DebugHook hook_;
};

}  // namespace wan22::models::dit
