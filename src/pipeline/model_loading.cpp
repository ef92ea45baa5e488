#include "pipeline/model_loading.h"

#include "core/status.h"
#include "models/dit/dit_keys.h"

namespace wan22::pipeline {

models::dit::DitConfig dit_config_from_weights(const io::WeightStore& ws) {
  models::dit::DitConfig c;
  const Shape pe = ws.info("patch_embedding.weight").shape;  // [dim, in_dim, pt, ph, pw]
  if (pe.size() != 5) throw Error(ErrorCode::kCorruptData, "patch_embedding.weight is not a Conv3d kernel");
  c.dim = pe[0];
  c.in_dim = pe[1];
  c.patch_size = {pe[2], pe[3], pe[4]};
  c.ffn_dim = ws.info("blocks.0.ffn.0.weight").shape[0];
  c.text_dim = ws.info("text_embedding.0.weight").shape[1];
  c.freq_dim = ws.info("time_embedding.0.weight").shape[1];
  c.out_dim = ws.info("head.head.weight").shape[0] / c.patch_volume();
  c.num_heads = c.dim / 128;
  c.num_layers = 0;
  while (ws.contains("blocks." + std::to_string(c.num_layers) + ".modulation")) ++c.num_layers;
  c.qk_norm = ws.contains("blocks.0.self_attn.norm_q.weight");
  c.cross_attn_norm = ws.contains("blocks.0.norm3.weight");
  c.text_len = 512;
  c.model_type = c.in_dim != c.out_dim ? "i2v" : (c.out_dim == 48 ? "ti2v" : "t2v");
  return c;
}

io::WeightStore open_dit_weights(const CheckpointPaths& p) {
  io::WeightStore ws = io::WeightStore::open(p.dit);
  models::dit::install_dit_key_map(ws);
  return ws;
}

models::dit::DitConfig dit_config_for(const CheckpointPaths& p, const io::WeightStore& ws) {
  return p.dit_config.empty() ? dit_config_from_weights(ws) : models::dit::load_dit_config(p.dit_config);
}

ModelGeometry geometry_of(const models::dit::DitConfig& dit, const models::vae::VaeConfig& vae) {
  ModelGeometry g;
  g.model_type = dit.model_type;
  g.dit_out_dim = dit.out_dim;
  g.z_dim = vae.z_dim;
  g.patch_t = static_cast<int>(dit.patch_size[0]);
  g.patch_h = static_cast<int>(dit.patch_size[1]);
  g.patch_w = static_cast<int>(dit.patch_size[2]);
  g.vae_spatial_stride = vae.spatial_stride();
  g.vae_temporal_stride = vae.temporal_stride();
  g.text_len = dit.text_len;
  return g;
}

void check_ti2v_geometry(const ModelGeometry& g) {
  if (g.dit_out_dim != g.z_dim) {
    throw Error(ErrorCode::kInvalidArgument,
                "the DiT predicts " + std::to_string(g.dit_out_dim) + " latent channels but the VAE has z_dim " +
                    std::to_string(g.z_dim) + ": DiT and VAE do not belong together");
  }
  if (g.model_type == "i2v") {
    throw Error(ErrorCode::kUnsupported, "model_type i2v (A14B image-to-video) is not supported by the TI2V "
                                         "pipeline yet; TI2V-5B checkpoints (model_type ti2v) are");
  }
}

}  // namespace wan22::pipeline
