#include "models/vae/vae_keys.h"

#include <utility>

#include "core/status.h"

namespace wan22::models::vae {

namespace {

// Inside a residual block: official sub-key (regex) -> Diffusers sub-key.
const std::pair<const char*, const char*> kResidualParts[] = {
    {R"(residual\.0\.)", "norm1."}, {R"(residual\.2\.)", "conv1."}, {R"(residual\.3\.)", "norm2."},
    {R"(residual\.6\.)", "conv2."}, {R"(shortcut\.)", "conv_shortcut."},
};

void add_common_rules(std::vector<AliasRule>& rules) {
  rules.push_back({R"(^conv1\.)", "quant_conv."});
  rules.push_back({R"(^conv2\.)", "post_quant_conv."});
  rules.push_back({R"(^(encoder|decoder)\.conv1\.)", "$1.conv_in."});
  rules.push_back({R"(^(encoder|decoder)\.head\.0\.)", "$1.norm_out."});
  rules.push_back({R"(^(encoder|decoder)\.head\.2\.)", "$1.conv_out."});
  rules.push_back({R"(^(encoder|decoder)\.middle\.1\.)", "$1.mid_block.attentions.0."});
  for (const auto& [canon, stored] : kResidualParts) {
    rules.push_back({std::string(R"(^(encoder|decoder)\.middle\.0\.)") + canon,
                     std::string("$1.mid_block.resnets.0.") + stored});
    rules.push_back({std::string(R"(^(encoder|decoder)\.middle\.2\.)") + canon,
                     std::string("$1.mid_block.resnets.1.") + stored});
  }
}

}  // namespace

AliasTable diffusers_wan22_vae_aliases() {
  AliasTable t;
  t.layout = "diffusers";
  add_common_rules(t.rules);
  for (const auto& [canon, stored] : kResidualParts) {
    t.rules.push_back({std::string(R"(^encoder\.downsamples\.(\d+)\.downsamples\.(\d+)\.)") + canon,
                       std::string("encoder.down_blocks.$1.resnets.$2.") + stored});
    t.rules.push_back({std::string(R"(^decoder\.upsamples\.(\d+)\.upsamples\.(\d+)\.)") + canon,
                       std::string("decoder.up_blocks.$1.resnets.$2.") + stored});
  }
  t.rules.push_back({R"(^encoder\.downsamples\.(\d+)\.downsamples\.\d+\.(resample|time_conv)\.)",
                     "encoder.down_blocks.$1.downsampler.$2."});
  t.rules.push_back({R"(^decoder\.upsamples\.(\d+)\.upsamples\.\d+\.(resample|time_conv)\.)",
                     "decoder.up_blocks.$1.upsampler.$2."});
  return t;
}

AliasTable diffusers_wan21_vae_aliases(int num_levels, int num_res_blocks) {
  AliasTable t;
  t.layout = "diffusers";
  add_common_rules(t.rules);
  // encoder: the flat list keeps its indices (down_blocks.k), residual parts renamed
  for (const auto& [canon, stored] : kResidualParts) {
    t.rules.push_back({std::string(R"(^encoder\.downsamples\.(\d+)\.)") + canon,
                       std::string("encoder.down_blocks.$1.") + stored});
  }
  t.rules.push_back({R"(^encoder\.downsamples\.(\d+)\.(resample|time_conv)\.)", "encoder.down_blocks.$1.$2."});
  // decoder: flat index k -> up_blocks[level].resnets[j] / up_blocks[level].upsamplers.0
  int k = 0;
  for (int level = 0; level < num_levels; ++level) {
    const std::string block = "decoder.up_blocks." + std::to_string(level) + ".";
    for (int j = 0; j < num_res_blocks + 1; ++j, ++k) {
      for (const auto& [canon, stored] : kResidualParts) {
        t.rules.push_back({R"(^decoder\.upsamples\.)" + std::to_string(k) + R"(\.)" + canon,
                           block + "resnets." + std::to_string(j) + "." + stored});
      }
    }
    if (level != num_levels - 1) {
      t.rules.push_back({R"(^decoder\.upsamples\.)" + std::to_string(k) + R"(\.(resample|time_conv)\.)",
                         block + "upsamplers.0.$1."});
      ++k;
    }
  }
  return t;
}

std::string install_vae_key_map(io::WeightStore& ws, const VaeConfig* hint) {
  const std::string probe22 = "encoder.downsamples.0.downsamples.0.residual.0.gamma";
  const std::string probe21 = "encoder.downsamples.0.residual.0.gamma";
  const bool want21 = hint != nullptr && hint->version == VaeVersion::kWan21;
  const bool want22 = hint != nullptr && hint->version == VaeVersion::kWan22;
  const int levels = hint != nullptr ? static_cast<int>(hint->dim_mult.size()) : 4;
  const int res_blocks = hint != nullptr ? hint->num_res_blocks : 2;
  if (!want21) {
    try {
      return install_key_map(ws, probe22, {diffusers_wan22_vae_aliases()});
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      if (want22) throw;
    }
  }
  try {
    return install_key_map(ws, probe21, {diffusers_wan21_vae_aliases(levels, res_blocks)});
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    std::string where = ws.sources().empty() ? std::string("(no files)") : ws.sources().front()->path();
    throw Error(ErrorCode::kNotFound, "cannot recognise the Wan VAE layout of " + where + ": neither '" + probe22 +
                                          "' (Wan2.2) nor '" + probe21 +
                                          "' (Wan2.1) is present under the official, prefixed or Diffusers names");
  }
}

}  // namespace wan22::models::vae
