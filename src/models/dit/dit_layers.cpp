#include "models/dit/dit_layers.h"

#include "ops/ops.h"

namespace wan22::models::dit {

Tensor load_weight(const io::WeightStore& ws, const std::string& key, const Shape& shape, bool keep_stored_dtype) {
  if (!keep_stored_dtype) return ws.get_f32(key, shape);
  const auto& info = ws.info(key);
  if (info.shape != shape) ws.get_f32(key, shape);  // throws the descriptive shape error
  return ws.get(key);
}

Linear Linear::load(const io::WeightStore& ws, const std::string& prefix, int64_t out, int64_t in,
                    const LoadOptions& opt) {
  Linear l;
  l.weight = load_weight(ws, prefix + ".weight", {out, in}, opt.keep_stored_dtype);
  l.bias = ws.get_f32(prefix + ".bias", {out});
  return l;
}

Tensor Linear::operator()(const Tensor& x) const { return ops::linear(x, weight, &bias); }

RmsNorm RmsNorm::load(const io::WeightStore& ws, const std::string& prefix, int64_t dim, float eps, bool enabled) {
  RmsNorm n;
  n.eps = eps;
  if (enabled) n.weight = ws.get_f32(prefix + ".weight", {dim});
  return n;
}

Tensor RmsNorm::operator()(const Tensor& x) const {
  if (!weight.defined()) return x;
  return ops::rms_norm(x, &weight, eps);
}

LayerNorm LayerNorm::plain(float eps) {
  LayerNorm n;
  n.eps = eps;
  return n;
}

LayerNorm LayerNorm::load(const io::WeightStore& ws, const std::string& prefix, int64_t dim, float eps) {
  LayerNorm n;
  n.eps = eps;
  n.weight = ws.get_f32(prefix + ".weight", {dim});
  n.bias = ws.get_f32(prefix + ".bias", {dim});
  return n;
}

LayerNorm LayerNorm::identity() {
  LayerNorm n;
  n.enabled = false;
  return n;
}

Tensor LayerNorm::operator()(const Tensor& x) const {
  if (!enabled) return x;
  return ops::layer_norm(x, weight.defined() ? &weight : nullptr, bias.defined() ? &bias : nullptr, eps);
}

}  // namespace wan22::models::dit
