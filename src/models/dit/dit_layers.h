// Small layers of the Wan DiT, loaded by their official key names with shape checks.
#pragma once
#include <string>

#include "core/tensor.h"
#include "io/weight_store.h"

namespace wan22::models::dit {

// How weights are held after loading.
struct LoadOptions {
  // false: every weight converted to f32 at load (the float32 reference path).
  // true: the matrices of linear layers stay in their stored dtype (zero-copy from the mapping;
  // ops convert on the fly); vectors (biases, norms, modulation) are always f32.
  bool keep_stored_dtype = false;
};

// Loads `key` checked against `shape`; the error names the key, the file and both shapes.
Tensor load_weight(const io::WeightStore& ws, const std::string& key, const Shape& shape, bool keep_stored_dtype);

struct Linear {
  Tensor weight;  // [out, in]
  Tensor bias;    // [out]
  static Linear load(const io::WeightStore& ws, const std::string& prefix, int64_t out, int64_t in,
                     const LoadOptions& opt);
  Tensor operator()(const Tensor& x) const;
};

// x * rsqrt(mean(x^2) + eps) * weight over the last dim (WanRMSNorm; identity when disabled).
struct RmsNorm {
  Tensor weight;  // [dim]; undefined when the norm is disabled (qk_norm = false)
  float eps = 1e-6f;
  static RmsNorm load(const io::WeightStore& ws, const std::string& prefix, int64_t dim, float eps, bool enabled);
  Tensor operator()(const Tensor& x) const;
};

// LayerNorm over the last dim with optional affine (WanLayerNorm; identity when disabled).
struct LayerNorm {
  Tensor weight, bias;  // [dim] when affine
  float eps = 1e-6f;
  bool enabled = true;
  static LayerNorm plain(float eps);  // elementwise_affine = False
  static LayerNorm load(const io::WeightStore& ws, const std::string& prefix, int64_t dim, float eps);
  static LayerNorm identity();
  Tensor operator()(const Tensor& x) const;
};

}  // namespace wan22::models::dit
