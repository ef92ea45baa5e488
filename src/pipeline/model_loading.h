// Shared by every engine's loader: the DiT's weights and configuration of a located checkpoint,
// and the geometry the pipeline derives from the DiT and VAE configurations.
#pragma once
#include "io/weight_store.h"
#include "models/dit/dit_config.h"
#include "models/vae/vae_config.h"
#include "pipeline/checkpoint.h"
#include "pipeline/engine.h"

namespace wan22::pipeline {

// The DiT weights of `p` with the DiT key map installed (official names for every layout).
io::WeightStore open_dit_weights(const CheckpointPaths& p);
// config.json when the checkpoint has one, else read from the tensor shapes (single files:
// ComfyUI; the head dim of every Wan DiT is 128).
models::dit::DitConfig dit_config_for(const CheckpointPaths& p, const io::WeightStore& ws);
models::dit::DitConfig dit_config_from_weights(const io::WeightStore& ws);

ModelGeometry geometry_of(const models::dit::DitConfig& dit, const models::vae::VaeConfig& vae);
// Throws Error naming the problem when DiT and VAE do not form a TI2V pipeline.
void check_ti2v_geometry(const ModelGeometry& g);

}  // namespace wan22::pipeline
