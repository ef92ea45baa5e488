// Key layouts of the Wan VAEs. The layers ask for the official names (vae2_1.py / vae2_2.py
// state dicts); Diffusers' AutoencoderKLWan names map onto them through these alias tables (the
// renames of diffusers' convert_wan_to_diffusers.py), ComfyUI-style prefixes are stripped by
// install_key_map.
#pragma once
#include <string>
#include <vector>

#include "io/weight_store.h"
#include "models/key_alias.h"
#include "models/vae/vae_config.h"

namespace wan22::models::vae {

// Diffusers names of a Wan2.2 VAE (is_residual=True): down_blocks.i.resnets.j / downsampler, ...
AliasTable diffusers_wan22_vae_aliases();
// Diffusers names of a Wan2.1 VAE: the flat decoder list regrouped into up_blocks of
// num_res_blocks + 1 resnets plus one upsampler (needs the level count and num_res_blocks).
AliasTable diffusers_wan21_vae_aliases(int num_levels, int num_res_blocks);

// Installs the key map on ws for whichever VAE layout it holds (official, prefixed, Diffusers
// Wan2.2, Diffusers Wan2.1). `hint` (may be null) gives the level / res-block counts for the
// Wan2.1 Diffusers regrouping; defaults are the published 4 levels, 2 res blocks.
// Returns the layout name; throws Error(kNotFound) naming the probed keys when nothing fits.
std::string install_vae_key_map(io::WeightStore& ws, const VaeConfig* hint);

}  // namespace wan22::models::vae
