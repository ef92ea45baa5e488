#include "pipeline/engine.h"

#include "ops/ops.h"

namespace wan22::pipeline {

Tensor Engine::decode_clamped(const Tensor& latent) { return ops::clamp(decode(latent), -1.0f, 1.0f); }

}  // namespace wan22::pipeline
