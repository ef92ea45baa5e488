#include "models/dit/dit_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/status.h"

namespace wan22::models::dit {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& source, const std::string& key, const std::string& what,
                      ErrorCode code = ErrorCode::kInvalidArgument) {
  throw Error(code, source + ": key '" + key + "' " + what);
}

// Reads an integer key; absent (or null) -> `def`, or an error when `required`.
int64_t get_int(const json& j, const std::string& key, const std::string& src, int64_t def, bool required,
                int64_t min_value = 1) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) bad(src, key, "is missing (required)", ErrorCode::kNotFound);
    return def;
  }
  const json& v = j[key];
  if (!v.is_number_integer()) bad(src, key, "must be an integer, got " + v.dump());
  int64_t x = v.get<int64_t>();
  if (x < min_value) bad(src, key, "must be >= " + std::to_string(min_value) + ", got " + std::to_string(x));
  return x;
}

bool get_bool(const json& j, const std::string& key, const std::string& src, bool def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_boolean()) bad(src, key, "must be true or false, got " + j[key].dump());
  return j[key].get<bool>();
}

double get_eps(const json& j, const std::string& key, const std::string& src, double def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_number()) bad(src, key, "must be a number, got " + j[key].dump());
  double e = j[key].get<double>();
  if (!(e > 0.0 && e < 1.0)) bad(src, key, "must be in (0, 1), got " + j[key].dump());
  return e;
}

std::array<int64_t, 3> get_patch(const json& j, const std::string& key, const std::string& src,
                                 std::array<int64_t, 3> def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  const json& v = j[key];
  if (!v.is_array() || v.size() != 3) bad(src, key, "must be a list of 3 positive integers, got " + v.dump());
  std::array<int64_t, 3> p{};
  for (size_t i = 0; i < 3; ++i) {
    if (!v[i].is_number_integer() || v[i].get<int64_t>() < 1) {
      bad(src, key, "must be a list of 3 positive integers, got " + v.dump());
    }
    p[i] = v[i].get<int64_t>();
  }
  return p;
}

void parse_official(const json& j, const std::string& src, DitConfig& c) {
  c.layout = "official";
  c.sinusoid_f64 = true;
  if (j.contains("model_type") && !j["model_type"].is_null()) {
    if (!j["model_type"].is_string()) bad(src, "model_type", "must be a string, got " + j["model_type"].dump());
    c.model_type = j["model_type"].get<std::string>();
  }
  if (c.model_type == "s2v") {
    bad(src, "model_type", "'s2v' (speech-to-video) is not supported", ErrorCode::kUnsupported);
  }
  if (c.model_type != "t2v" && c.model_type != "ti2v" && c.model_type != "i2v") {
    bad(src, "model_type", "must be one of t2v, ti2v, i2v; got '" + c.model_type + "'");
  }
  c.patch_size = get_patch(j, "patch_size", src, c.patch_size);
  c.text_len = get_int(j, "text_len", src, c.text_len, false);
  c.in_dim = get_int(j, "in_dim", src, 0, true);
  c.dim = get_int(j, "dim", src, 0, true);
  c.ffn_dim = get_int(j, "ffn_dim", src, 0, true);
  c.freq_dim = get_int(j, "freq_dim", src, c.freq_dim, false);
  c.text_dim = get_int(j, "text_dim", src, c.text_dim, false);
  c.out_dim = get_int(j, "out_dim", src, 0, true);
  c.num_heads = get_int(j, "num_heads", src, 0, true);
  c.num_layers = get_int(j, "num_layers", src, 0, true);
  c.qk_norm = get_bool(j, "qk_norm", src, true);
  c.cross_attn_norm = get_bool(j, "cross_attn_norm", src, true);
  c.eps = get_eps(j, "eps", src, 1e-6);
  if (j.contains("window_size") && !j["window_size"].is_null()) {
    const json& w = j["window_size"];
    if (!w.is_array() || w.size() != 2 || !w[0].is_number_integer() || !w[1].is_number_integer()) {
      bad(src, "window_size", "must be a list of 2 integers, got " + w.dump());
    }
    if (w[0].get<int64_t>() != -1 || w[1].get<int64_t>() != -1) {
      bad(src, "window_size", "local (windowed) attention is not supported; only [-1, -1], got " + w.dump(),
          ErrorCode::kUnsupported);
    }
  }
}

void parse_diffusers(const json& j, const std::string& src, DitConfig& c) {
  c.layout = "diffusers";
  c.sinusoid_f64 = false;  // diffusers' get_timestep_embedding works in float32
  for (const char* k : {"image_dim", "added_kv_proj_dim", "pos_embed_seq_len"}) {
    if (j.contains(k) && !j[k].is_null()) {
      bad(src, k, "is set: the CLIP image branch (Wan2.1 I2V / FLF2V) is not supported; Wan2.2 models have null here",
          ErrorCode::kUnsupported);
    }
  }
  c.patch_size = get_patch(j, "patch_size", src, c.patch_size);
  c.num_heads = get_int(j, "num_attention_heads", src, 0, true);
  const int64_t head_dim = get_int(j, "attention_head_dim", src, 0, true);
  c.dim = c.num_heads * head_dim;
  c.in_dim = get_int(j, "in_channels", src, 0, true);
  c.out_dim = get_int(j, "out_channels", src, c.in_dim, false);  // null -> in_channels, as diffusers does
  c.text_dim = get_int(j, "text_dim", src, 4096, false);
  c.freq_dim = get_int(j, "freq_dim", src, 256, false);
  c.ffn_dim = get_int(j, "ffn_dim", src, 0, true);
  c.num_layers = get_int(j, "num_layers", src, 0, true);
  c.cross_attn_norm = get_bool(j, "cross_attn_norm", src, true);
  c.eps = get_eps(j, "eps", src, 1e-6);
  c.rope_max_seq_len = get_int(j, "rope_max_seq_len", src, 1024, false);
  // WanAttention always builds norm_q/norm_k as RMSNorm over all heads, whatever qk_norm says;
  // the only value diffusers documents is "rms_norm_across_heads".
  if (j.contains("qk_norm") && !j["qk_norm"].is_null()) {
    const json& q = j["qk_norm"];
    if (!q.is_string() || q.get<std::string>() != "rms_norm_across_heads") {
      bad(src, "qk_norm", "must be \"rms_norm_across_heads\" (or null), got " + q.dump(), ErrorCode::kUnsupported);
    }
  }
  c.qk_norm = true;
  // Diffusers' pipelines pad the text to max_sequence_length = 512; the config does not say.
  c.text_len = 512;
  // The condition channels of I2V are concatenated on the input: more input than output channels.
  c.model_type = c.in_dim != c.out_dim ? "i2v" : "t2v";
}

}  // namespace

void validate(const DitConfig& c, const std::string& src) {
  if (c.dim % c.num_heads != 0) {
    throw Error(ErrorCode::kInvalidArgument, src + ": dim " + std::to_string(c.dim) +
                                                 " is not divisible by the number of heads " +
                                                 std::to_string(c.num_heads));
  }
  if (c.head_dim() % 2 != 0) {
    throw Error(ErrorCode::kInvalidArgument,
                src + ": head dim " + std::to_string(c.head_dim()) + " must be even (RoPE works on pairs)");
  }
  if (c.freq_dim % 2 != 0) {
    throw Error(ErrorCode::kInvalidArgument, src + ": key 'freq_dim' must be even, got " + std::to_string(c.freq_dim));
  }
  if (c.model_type == "i2v" && c.in_dim <= c.out_dim) {
    throw Error(ErrorCode::kInvalidArgument, src + ": model_type i2v needs in_dim (" + std::to_string(c.in_dim) +
                                                 ") > out_dim (" + std::to_string(c.out_dim) +
                                                 "): the condition is concatenated on channels");
  }
}

DitConfig parse_dit_config(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(ErrorCode::kInvalidArgument, source + ": a DiT config must be a JSON object");
  DitConfig c;
  std::string cls;
  if (j.contains("_class_name") && j["_class_name"].is_string()) cls = j["_class_name"].get<std::string>();
  if (cls == "WanTransformer3DModel" || (cls.empty() && j.contains("num_attention_heads"))) {
    parse_diffusers(j, source, c);
  } else if (cls.empty() || cls == "WanModel") {
    parse_official(j, source, c);
  } else {
    bad(source, "_class_name", "is '" + cls + "': not a Wan transformer (expected WanModel or WanTransformer3DModel)");
  }
  validate(c, source);
  return c;
}

DitConfig load_dit_config(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string file = path;
  if (fs::is_directory(path, ec)) file = (fs::path(path) / "config.json").string();
  if (!fs::exists(file, ec)) throw Error(ErrorCode::kNotFound, file + ": DiT config not found");
  nlohmann::json j;
  try {
    std::ifstream in(file);
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorruptData, file + ": not valid JSON (" + e.what() + ")");
  }
  return parse_dit_config(j, file);
}

}  // namespace wan22::models::dit
