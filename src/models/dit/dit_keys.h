// Key layouts of the Wan DiT: the official names (used by the layers), the Diffusers
// WanTransformer3DModel names (through an AliasTable) and ComfyUI's prefixed single files
// (stripped by install_key_map).
#pragma once
#include <string>

#include "io/weight_store.h"
#include "models/key_alias.h"

namespace wan22::models::dit {

// The Diffusers transformer names of every official WanModel key.
const AliasTable& diffusers_dit_aliases();
// Installs the key map on `ws` and returns the detected layout ("official",
// "official+prefix:<p>", "diffusers"). Throws Error(kNotFound) naming the file when no layout fits.
std::string install_dit_key_map(io::WeightStore& ws);

}  // namespace wan22::models::dit
