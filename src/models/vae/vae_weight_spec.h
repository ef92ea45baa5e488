// The complete list of official weight names and shapes a VAE configuration needs (what the
// Encoder3d / Decoder3d loaders ask for). Used to check a checkpoint up front, to report every
// missing key at once, and to build random models for tests and benchmarks.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/vae/vae_config.h"

namespace wan22::models::vae {

struct WeightSpec {
  std::string key;
  Shape shape;
};

// cfg must be complete (version known).
std::vector<WeightSpec> vae_weight_specs(const VaeConfig& cfg);

// Checks that ws holds every weight of cfg with its shape; throws one Error listing the missing
// keys (kNotFound) or the wrong shapes (kInvalidArgument), each named, with the file.
void check_vae_weights(const io::WeightStore& ws, const VaeConfig& cfg);

}  // namespace wan22::models::vae
