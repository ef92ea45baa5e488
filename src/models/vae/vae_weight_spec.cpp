#include "models/vae/vae_weight_spec.h"

#include <algorithm>

#include "core/status.h"

namespace wan22::models::vae {

namespace {

struct SpecBuilder {
  std::vector<WeightSpec> out;

  void conv(const std::string& p, int64_t in, int64_t o, Shape k) {
    Shape s = {o, in};
    s.insert(s.end(), k.begin(), k.end());
    out.push_back({p + "weight", s});
    out.push_back({p + "bias", {o}});
  }
  void residual(const std::string& p, int64_t in, int64_t o) {
    out.push_back({p + "residual.0.gamma", {in, 1, 1, 1}});
    conv(p + "residual.2.", in, o, {3, 3, 3});
    out.push_back({p + "residual.3.gamma", {o, 1, 1, 1}});
    conv(p + "residual.6.", o, o, {3, 3, 3});
    if (in != o) conv(p + "shortcut.", in, o, {1, 1, 1});
  }
  void attention(const std::string& p, int64_t d) {
    out.push_back({p + "norm.gamma", {d, 1, 1}});
    conv(p + "to_qkv.", d, 3 * d, {1, 1});
    conv(p + "proj.", d, d, {1, 1});
  }
  void resample(const std::string& p, int64_t d, bool up, bool temporal, int64_t up_out) {
    conv(p + "resample.1.", d, up ? up_out : d, {3, 3});
    if (temporal) conv(p + "time_conv.", d, up ? 2 * d : d, {3, 1, 1});
  }
  void middle(const std::string& p, int64_t d) {
    residual(p + "middle.0.", d, d);
    attention(p + "middle.1.", d);
    residual(p + "middle.2.", d, d);
  }
};

}  // namespace

std::vector<WeightSpec> vae_weight_specs(const VaeConfig& cfg) {
  WAN22_CHECK(cfg.version != VaeVersion::kUnknown, "vae_weight_specs: the VAE version is unknown");
  const bool v22 = cfg.version == VaeVersion::kWan22;
  const int levels = static_cast<int>(cfg.dim_mult.size());
  const int64_t z = cfg.z_dim;
  const int64_t io_ch = static_cast<int64_t>(cfg.in_channels) * cfg.patch() * cfg.patch();
  SpecBuilder b;

  // encoder
  std::vector<int64_t> dims = {cfg.dim};
  for (int m : cfg.dim_mult) dims.push_back(static_cast<int64_t>(cfg.dim) * m);
  b.conv("encoder.conv1.", io_ch, dims[0], {3, 3, 3});
  int k = 0;
  for (int i = 0; i < levels; ++i) {
    int64_t in = dims[i], out = dims[i + 1];
    const bool t = i < static_cast<int>(cfg.temperal_downsample.size()) && cfg.temperal_downsample[i];
    const std::string bp = "encoder.downsamples." + std::to_string(i) + ".downsamples.";
    for (int j = 0; j < cfg.num_res_blocks; ++j, in = out) {
      b.residual(v22 ? bp + std::to_string(j) + "." : "encoder.downsamples." + std::to_string(k++) + ".", in, out);
    }
    if (i != levels - 1) {
      b.resample(v22 ? bp + std::to_string(cfg.num_res_blocks) + "." : "encoder.downsamples." + std::to_string(k++) + ".",
                 out, false, t, out);
    }
  }
  b.middle("encoder.", dims.back());
  b.out.push_back({"encoder.head.0.gamma", {dims.back(), 1, 1, 1}});
  b.conv("encoder.head.2.", dims.back(), 2 * z, {3, 3, 3});
  b.conv("conv1.", 2 * z, 2 * z, {1, 1, 1});
  b.conv("conv2.", z, z, {1, 1, 1});

  // decoder
  std::vector<int64_t> ddims = {static_cast<int64_t>(cfg.dec_dim) * cfg.dim_mult.back()};
  for (int i = levels - 1; i >= 0; --i) ddims.push_back(static_cast<int64_t>(cfg.dec_dim) * cfg.dim_mult[i]);
  std::vector<bool> t_up(cfg.temperal_downsample.rbegin(), cfg.temperal_downsample.rend());
  b.conv("decoder.conv1.", z, ddims[0], {3, 3, 3});
  b.middle("decoder.", ddims[0]);
  k = 0;
  int64_t out = ddims[0];
  for (int i = 0; i < levels; ++i) {
    int64_t in = ddims[i];
    out = ddims[i + 1];
    const bool t = i < static_cast<int>(t_up.size()) && t_up[i];
    const std::string bp = "decoder.upsamples." + std::to_string(i) + ".upsamples.";
    if (!v22 && (i == 1 || i == 2 || i == 3)) in /= 2;
    for (int j = 0; j < cfg.num_res_blocks + 1; ++j, in = out) {
      b.residual(v22 ? bp + std::to_string(j) + "." : "decoder.upsamples." + std::to_string(k++) + ".", in, out);
    }
    if (i != levels - 1) {
      b.resample(v22 ? bp + std::to_string(cfg.num_res_blocks + 1) + "." : "decoder.upsamples." + std::to_string(k++) + ".",
                 out, true, t, v22 ? out : out / 2);
    }
  }
  b.out.push_back({"decoder.head.0.gamma", {out, 1, 1, 1}});
  b.conv("decoder.head.2.", out, io_ch, {3, 3, 3});
  return b.out;
}

void check_vae_weights(const io::WeightStore& ws, const VaeConfig& cfg) {
  std::vector<std::string> missing, wrong;
  for (const WeightSpec& spec : vae_weight_specs(cfg)) {
    if (!ws.contains(spec.key)) {
      std::string stored = ws.resolve(spec.key);
      missing.push_back("'" + spec.key + "'" + (stored != spec.key ? " (stored as '" + stored + "')" : ""));
    } else if (ws.info(spec.key).shape != spec.shape) {
      wrong.push_back("'" + spec.key + "' has shape " + shape_str(ws.info(spec.key).shape) + ", expected " +
                      shape_str(spec.shape));
    }
  }
  if (missing.empty() && wrong.empty()) return;
  const std::string where = ws.sources().empty() ? std::string("(no files)") : ws.sources().front()->path();
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    const size_t shown = std::min<size_t>(v.size(), 8);
    for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > shown) s += ", ... (" + std::to_string(v.size() - shown) + " more)";
    return s;
  };
  const std::string what = std::string(vae_version_name(cfg.version)) + " VAE weights in " + where + ": ";
  if (!missing.empty()) {
    throw Error(ErrorCode::kNotFound, what + std::to_string(missing.size()) + " missing: " + join(missing) +
                                          (wrong.empty() ? "" : "; wrong shapes: " + join(wrong)));
  }
  throw Error(ErrorCode::kInvalidArgument, what + "wrong shapes: " + join(wrong));
}

}  // namespace wan22::models::vae
