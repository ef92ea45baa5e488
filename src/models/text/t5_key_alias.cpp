#include "models/text/t5_key_alias.h"

#include "core/status.h"

namespace wan22::models::text {

namespace {

std::vector<AliasRule> block_rules() {
  const std::string b = R"(^blocks\.(\d+)\.)";
  const std::string tb = "encoder.block.$1.";
  return {
      {b + R"(attn\.(q|k|v|o)\.)", tb + "layer.0.SelfAttention.$2."},
      {b + R"(pos_embedding\.embedding\.)", tb + "layer.0.SelfAttention.relative_attention_bias."},
      {b + R"(norm1\.)", tb + "layer.0.layer_norm."},
      {b + R"(norm2\.)", tb + "layer.1.layer_norm."},
      {b + R"(ffn\.gate\.0\.)", tb + "layer.1.DenseReluDense.wi_0."},
      {b + R"(ffn\.fc1\.)", tb + "layer.1.DenseReluDense.wi_1."},
      {b + R"(ffn\.fc2\.)", tb + "layer.1.DenseReluDense.wo."},
      {R"(^norm\.)", "encoder.final_layer_norm."},
      // T5 (shared_pos): transformers keeps the one relative bias in block 0.
      {R"(^pos_embedding\.embedding\.)", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias."},
  };
}

AliasTable make_table(const std::string& layout, const std::string& embedding) {
  AliasTable t{layout, block_rules()};
  t.rules.push_back({R"(^token_embedding\.)", embedding});
  return t;
}

}  // namespace

const std::vector<AliasTable>& t5_alias_tables() {
  static const std::vector<AliasTable> tables = {
      make_table("transformers", "shared."),
      make_table("transformers", "encoder.embed_tokens."),
  };
  return tables;
}

std::string install_t5_key_map(io::WeightStore& ws) {
  std::string layout = install_key_map(ws, "token_embedding.weight", t5_alias_tables());
  for (const char* k : {"blocks.0.attn.q.weight", "blocks.0.norm1.weight", "norm.weight"}) {
    if (!ws.contains(k)) {
      std::string where = ws.sources().empty() ? std::string("(no files)") : ws.sources().front()->path();
      throw Error(ErrorCode::kNotFound, "T5 encoder checkpoint " + where + " (layout " + layout + ") has no '" + k +
                                            "' (stored as '" + ws.resolve(k) + "')");
    }
  }
  return layout;
}

}  // namespace wan22::models::text
