#include "models/dit/dit_keys.h"

namespace wan22::models::dit {

const AliasTable& diffusers_dit_aliases() {
  // Official -> Diffusers (see diffusers' convert_wan_to_diffusers.py). The official blocks call
  // their norms norm1, norm3 (cross-attention, affine), norm2; Diffusers calls the affine one norm2.
  static const AliasTable table{
      "diffusers",
      {
          {R"(^time_embedding\.0\.)", "condition_embedder.time_embedder.linear_1."},
          {R"(^time_embedding\.2\.)", "condition_embedder.time_embedder.linear_2."},
          {R"(^text_embedding\.0\.)", "condition_embedder.text_embedder.linear_1."},
          {R"(^text_embedding\.2\.)", "condition_embedder.text_embedder.linear_2."},
          {R"(^time_projection\.1\.)", "condition_embedder.time_proj."},
          {R"(^head\.modulation$)", "scale_shift_table"},
          {R"(^head\.head\.)", "proj_out."},
          {R"(^blocks\.(\d+)\.modulation$)", "blocks.$1.scale_shift_table"},
          {R"(^blocks\.(\d+)\.ffn\.0\.)", "blocks.$1.ffn.net.0.proj."},
          {R"(^blocks\.(\d+)\.ffn\.2\.)", "blocks.$1.ffn.net.2."},
          {R"(^blocks\.(\d+)\.norm3\.)", "blocks.$1.norm2."},
          {R"(^blocks\.(\d+)\.self_attn\.o\.)", "blocks.$1.attn1.to_out.0."},
          {R"(^blocks\.(\d+)\.self_attn\.([qkv])\.)", "blocks.$1.attn1.to_$2."},
          {R"(^blocks\.(\d+)\.self_attn\.norm_([qk])\.)", "blocks.$1.attn1.norm_$2."},
          {R"(^blocks\.(\d+)\.cross_attn\.o\.)", "blocks.$1.attn2.to_out.0."},
          {R"(^blocks\.(\d+)\.cross_attn\.([qkv])\.)", "blocks.$1.attn2.to_$2."},
          {R"(^blocks\.(\d+)\.cross_attn\.norm_([qk])\.)", "blocks.$1.attn2.norm_$2."},
      }};
  return table;
}

std::string install_dit_key_map(io::WeightStore& ws) {
  // patch_embedding.* is named alike in both layouts; the time embedding is not.
  return install_key_map(ws, "time_embedding.0.weight", {diffusers_dit_aliases()});
}

}  // namespace wan22::models::dit
