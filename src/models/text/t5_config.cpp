#include "models/text/t5_config.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace wan22::models::text {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& origin, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, origin + ": " + msg);
}

int64_t get_int(const json& j, const std::string& key, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end()) bad(origin, "missing key '" + key + "'");
  if (!it->is_number_integer()) bad(origin, "key '" + key + "' must be an integer, got " + it->dump());
  return it->get<int64_t>();
}

int64_t get_int_or(const json& j, const std::string& key, int64_t def, const std::string& origin) {
  return j.contains(key) ? get_int(j, key, origin) : def;
}

// The official-style file written next to the golden fixtures (the kwargs of umt5_xxl()).
T5Config from_official(const json& j, const std::string& origin) {
  T5Config c;
  c.vocab = get_int(j, j.contains("vocab") ? "vocab" : "vocab_size", origin);
  c.dim = get_int(j, "dim", origin);
  c.dim_attn = get_int_or(j, "dim_attn", c.dim, origin);
  c.dim_ffn = get_int(j, "dim_ffn", origin);
  c.num_heads = get_int(j, "num_heads", origin);
  c.num_layers = j.contains("num_layers") ? get_int(j, "num_layers", origin) : get_int(j, "encoder_layers", origin);
  c.num_buckets = get_int(j, "num_buckets", origin);
  c.max_distance = get_int_or(j, "max_dist", 128, origin);
  if (j.contains("shared_pos")) {
    if (!j["shared_pos"].is_boolean()) bad(origin, "key 'shared_pos' must be true or false");
    c.shared_pos = j["shared_pos"].get<bool>();
  }
  if (j.contains("eps")) {
    if (!j["eps"].is_number()) bad(origin, "key 'eps' must be a number");
    c.eps = j["eps"].get<float>();
  }
  return c;
}

// transformers' T5Config / UMT5Config (config.json of a text_encoder/ directory).
T5Config from_transformers(const json& j, const std::string& origin) {
  T5Config c;
  c.vocab = get_int(j, "vocab_size", origin);
  c.dim = get_int(j, "d_model", origin);
  c.num_heads = get_int(j, "num_heads", origin);
  c.dim_attn = get_int(j, "d_kv", origin) * c.num_heads;
  c.dim_ffn = get_int(j, "d_ff", origin);
  c.num_layers = get_int(j, "num_layers", origin);
  c.num_buckets = get_int_or(j, "relative_attention_num_buckets", 32, origin);
  c.max_distance = get_int_or(j, "relative_attention_max_distance", 128, origin);
  if (j.contains("layer_norm_epsilon")) {
    if (!j["layer_norm_epsilon"].is_number()) bad(origin, "key 'layer_norm_epsilon' must be a number");
    c.eps = j["layer_norm_epsilon"].get<float>();
  }
  std::string model_type = j.value("model_type", std::string("umt5"));
  if (model_type == "umt5") {
    c.shared_pos = false;
  } else if (model_type == "t5") {
    c.shared_pos = true;
  } else {
    throw Error(ErrorCode::kUnsupported, origin + ": model_type '" + model_type + "' is not a T5 encoder (want umt5 or t5)");
  }
  std::string proj = j.value("feed_forward_proj", std::string("gated-gelu"));
  std::string act = j.value("dense_act_fn", std::string("gelu_new"));
  if (proj != "gated-gelu" || (act != "gelu_new" && act != "gelu_pytorch_tanh")) {
    throw Error(ErrorCode::kUnsupported, origin + ": feed_forward_proj '" + proj + "' / dense_act_fn '" + act +
                                             "' is not supported (only the gated tanh-GELU FFN of UMT5 / T5 v1.1)");
  }
  return c;
}

}  // namespace

void T5Config::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::kInvalidArgument, "T5 config: " + what);
  };
  need(vocab > 0, "vocab must be > 0");
  need(dim > 0, "dim must be > 0");
  need(dim_ffn > 0, "dim_ffn must be > 0");
  need(num_heads > 0, "num_heads must be > 0");
  need(dim_attn > 0 && dim_attn % num_heads == 0, "dim_attn must be a positive multiple of num_heads");
  need(num_layers > 0, "num_layers must be > 0");
  need(num_buckets >= 4, "num_buckets must be >= 4");
  need(max_distance > num_buckets / 4, "max_distance must exceed num_buckets / 4");
  need(eps > 0, "eps must be > 0");
}

std::string T5Config::str() const {
  std::ostringstream s;
  s << "T5(vocab " << vocab << ", dim " << dim << ", dim_attn " << dim_attn << ", ffn " << dim_ffn << ", heads "
    << num_heads << ", layers " << num_layers << ", buckets " << num_buckets << ", max_dist " << max_distance
    << (shared_pos ? ", shared pos" : ", per-layer pos") << ", eps " << eps << ")";
  return s.str();
}

T5Config umt5_xxl_config() { return T5Config{}; }

T5Config parse_t5_config(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text, nullptr, true, /*ignore_comments=*/true);
  } catch (const std::exception& e) {
    bad(origin, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) bad(origin, "expected a JSON object");
  T5Config c = j.contains("d_model") ? from_transformers(j, origin) : from_official(j, origin);
  try {
    c.validate();
  } catch (const Error& e) {
    bad(origin, e.what());
  }
  return c;
}

T5Config load_t5_config(const std::string& json_path) {
  std::ifstream f(json_path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kNotFound, "cannot open T5 config " + json_path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_t5_config(ss.str(), json_path);
}

T5Config infer_t5_config(const io::WeightStore& ws) {
  T5Config c;
  const auto& emb = ws.info("token_embedding.weight").shape;
  if (emb.size() != 2) throw Error(ErrorCode::kInvalidArgument, "token_embedding.weight must be 2-D, got " + shape_str(emb));
  c.vocab = emb[0];
  c.dim = emb[1];
  const auto& q = ws.info("blocks.0.attn.q.weight").shape;
  if (q.size() != 2) throw Error(ErrorCode::kInvalidArgument, "blocks.0.attn.q.weight must be 2-D, got " + shape_str(q));
  c.dim_attn = q[0];
  const auto& fc1 = ws.info("blocks.0.ffn.fc1.weight").shape;
  if (fc1.size() != 2) throw Error(ErrorCode::kInvalidArgument, "blocks.0.ffn.fc1.weight must be 2-D, got " + shape_str(fc1));
  c.dim_ffn = fc1[0];
  c.shared_pos = !ws.contains("blocks.0.pos_embedding.embedding.weight");
  const std::string pos_key = c.shared_pos ? "pos_embedding.embedding.weight" : "blocks.0.pos_embedding.embedding.weight";
  const auto& pos = ws.info(pos_key).shape;
  if (pos.size() != 2) throw Error(ErrorCode::kInvalidArgument, pos_key + " must be 2-D, got " + shape_str(pos));
  c.num_buckets = pos[0];
  c.num_heads = pos[1];
  int64_t n = 0;
  while (ws.contains("blocks." + std::to_string(n) + ".norm1.weight")) ++n;
  c.num_layers = n;
  c.validate();
  return c;
}

}  // namespace wan22::models::text
