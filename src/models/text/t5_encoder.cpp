#include "models/text/t5_encoder.h"

#include <algorithm>
#include <limits>

#include "core/log.h"
#include "core/status.h"
#include "models/text/t5_key_alias.h"
#include "models/text/t5_position_bias.h"
#include "ops/ops.h"

namespace wan22::models::text {

namespace {

// Weight `key` with the expected shape; f32 = converted copy, else the stored float dtype.
Tensor load_weight(const io::WeightStore& ws, const std::string& key, const Shape& shape, bool f32) {
  const io::TensorInfo& info = ws.info(key);
  if (info.shape != shape) {
    throw Error(ErrorCode::kInvalidArgument, "T5 weight '" + key + "' in " + ws.file_of(key) + " has shape " +
                                                 shape_str(info.shape) + ", expected " + shape_str(shape));
  }
  if (!dtype_is_float(info.dtype)) {
    throw Error(ErrorCode::kUnsupported, "T5 weight '" + key + "' in " + ws.file_of(key) + " has dtype " +
                                             dtype_name(info.dtype) + ", expected a float type");
  }
  return f32 ? ws.get_f32(key) : ws.get(key);
}

// Integer values of a [B, L] tensor (int32 / int64 / float holding integers).
std::vector<int64_t> int_values(const Tensor& t, const char* what) {
  Tensor c = t.contiguous();
  std::vector<int64_t> v(static_cast<size_t>(c.numel()));
  switch (c.dtype()) {
    case DType::kI64: std::copy_n(c.data<int64_t>(), v.size(), v.begin()); break;
    case DType::kI32: std::copy_n(c.data<int32_t>(), v.size(), v.begin()); break;
    default: {
      WAN22_CHECK(dtype_is_float(c.dtype()) || c.dtype() == DType::kBool || c.dtype() == DType::kU8 ||
                      c.dtype() == DType::kI8 || c.dtype() == DType::kI16,
                  std::string("T5 encoder: unsupported dtype for ") + what);
      auto f = c.to_vector();
      for (size_t i = 0; i < f.size(); ++i) v[i] = static_cast<int64_t>(f[i]);
    }
  }
  return v;
}

}  // namespace

// How padding is kept out of attention: valid-key lengths when every row's mask is a prefix
// (real tokens first), else a [B, 1, 1, L] keep-mask folded into the additive bias.
struct T5Encoder::AttnMask {
  int64_t batch = 0, len = 0;
  std::vector<int64_t> k_lens;  // prefix form (empty: all keys valid or general form)
  std::vector<uint8_t> keep;    // general form, [B * L]

  static AttnMask make(const Tensor& mask, int64_t batch, int64_t len) {
    AttnMask m;
    m.batch = batch;
    m.len = len;
    if (!mask.defined()) return m;
    std::vector<int64_t> v = int_values(mask, "mask");
    bool all_prefix = true, all_real = true;
    std::vector<int64_t> lens(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) {
      int64_t n = 0;
      while (n < len && v[static_cast<size_t>(b * len + n)] != 0) ++n;
      bool prefix = n > 0;
      for (int64_t j = n; j < len && prefix; ++j) prefix = v[static_cast<size_t>(b * len + j)] == 0;
      all_prefix = all_prefix && prefix;
      all_real = all_real && n == len;
      lens[static_cast<size_t>(b)] = n;
    }
    if (all_real) return m;
    if (all_prefix) {
      m.k_lens = std::move(lens);
      return m;
    }
    m.keep.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) m.keep[i] = v[i] != 0;
    return m;
  }

  // The additive bias for one layer: the position bias [1,H,L,L], with masked keys set to the lowest
  // float (the reference's masked_fill(mask == 0, finfo.min)) in the general form.
  Tensor bias(const Tensor& pos) const {
    if (keep.empty()) return pos;
    const int64_t heads = pos.dim(1);
    const int64_t plane = len * len;
    Tensor out = Tensor::empty({batch, heads, len, len});
    const float* src = pos.data<float>();
    float* dst = out.data<float>();
    const float lowest = std::numeric_limits<float>::lowest();
    for (int64_t b = 0; b < batch; ++b) {
      const uint8_t* kb = keep.data() + b * len;
      for (int64_t h = 0; h < heads; ++h) {
        const float* s = src + h * plane;
        float* d = dst + (b * heads + h) * plane;
        for (int64_t p = 0; p < plane; ++p) d[p] = kb[p % len] ? s[p] : lowest;
      }
    }
    return out;
  }
};

T5Encoder::T5Encoder(const io::WeightStore& ws, const T5Config& cfg) : cfg_(cfg) {
  cfg_.validate();
  const int64_t d = cfg_.dim, da = cfg_.dim_attn, df = cfg_.dim_ffn;
  token_embedding_ = load_weight(ws, "token_embedding.weight", {cfg_.vocab, d}, false);
  if (cfg_.shared_pos) {
    shared_pos_table_ = load_weight(ws, "pos_embedding.embedding.weight", {cfg_.num_buckets, cfg_.num_heads}, true);
  }
  blocks_.reserve(static_cast<size_t>(cfg_.num_layers));
  for (int64_t i = 0; i < cfg_.num_layers; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    Block b;
    b.norm1 = load_weight(ws, p + "norm1.weight", {d}, true);
    b.q = load_weight(ws, p + "attn.q.weight", {da, d}, false);
    b.k = load_weight(ws, p + "attn.k.weight", {da, d}, false);
    b.v = load_weight(ws, p + "attn.v.weight", {da, d}, false);
    b.o = load_weight(ws, p + "attn.o.weight", {d, da}, false);
    if (!cfg_.shared_pos) {
      b.pos_table = load_weight(ws, p + "pos_embedding.embedding.weight", {cfg_.num_buckets, cfg_.num_heads}, true);
    }
    b.norm2 = load_weight(ws, p + "norm2.weight", {d}, true);
    b.gate = load_weight(ws, p + "ffn.gate.0.weight", {df, d}, false);
    b.fc1 = load_weight(ws, p + "ffn.fc1.weight", {df, d}, false);
    b.fc2 = load_weight(ws, p + "ffn.fc2.weight", {d, df}, false);
    blocks_.push_back(std::move(b));
  }
  norm_ = load_weight(ws, "norm.weight", {d}, true);
}

T5Encoder T5Encoder::load(const std::string& weights_path, const std::string& config_json) {
  io::WeightStore ws = io::WeightStore::open(weights_path);
  const std::string layout = install_t5_key_map(ws);
  T5Config cfg = config_json.empty() ? infer_t5_config(ws) : load_t5_config(config_json);
  LOG_INFO << "T5 encoder " << weights_path << " (" << layout << "): " << cfg.str();
  return T5Encoder(ws, cfg);
}

Tensor T5Encoder::self_attention(const Block& blk, const Tensor& x, const Tensor& pos_bias, const AttnMask& m) const {
  const int64_t batch = x.dim(0), len = x.dim(1);
  const int64_t heads = cfg_.num_heads, hd = cfg_.head_dim();
  Tensor q = ops::linear(x, blk.q).view({batch, len, heads, hd});
  Tensor k = ops::linear(x, blk.k).view({batch, len, heads, hd});
  Tensor v = ops::linear(x, blk.v).view({batch, len, heads, hd});
  Tensor bias = m.bias(pos_bias);
  ops::AttentionOptions opt;
  opt.scale = 1.0f;  // T5 does not scale the scores
  opt.bias = &bias;
  opt.k_lens = m.k_lens;
  Tensor attn = ops::attention(q, k, v, opt).view({batch, len, heads * hd});
  return ops::linear(attn, blk.o);
}

Tensor T5Encoder::feed_forward(const Block& blk, const Tensor& x) const {
  Tensor gate = ops::gelu_tanh(ops::linear(x, blk.gate));
  Tensor hidden = ops::mul(ops::linear(x, blk.fc1), gate);
  return ops::linear(hidden, blk.fc2);
}

Tensor T5Encoder::forward(const Tensor& ids, const Tensor& mask) const {
  if (ids.ndim() != 2 || ids.dim(1) < 1) {
    throw Error(ErrorCode::kInvalidArgument, "T5 encoder: ids must be [B, L] with L >= 1, got " + shape_str(ids.shape()));
  }
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  if (mask.defined() && mask.shape() != ids.shape()) {
    throw Error(ErrorCode::kInvalidArgument, "T5 encoder: mask shape " + shape_str(mask.shape()) +
                                                 " does not match ids " + shape_str(ids.shape()));
  }
  std::vector<int64_t> id_values = int_values(ids, "ids");
  Tensor ids64 = Tensor::empty(ids.shape(), DType::kI64);
  for (size_t i = 0; i < id_values.size(); ++i) {
    if (id_values[i] < 0 || id_values[i] >= cfg_.vocab) {
      throw Error(ErrorCode::kInvalidArgument, "T5 encoder: token id " + std::to_string(id_values[i]) +
                                                   " outside the vocabulary [0, " + std::to_string(cfg_.vocab) + ")");
    }
    ids64.data<int64_t>()[i] = id_values[i];
  }
  const AttnMask attn_mask = AttnMask::make(mask, batch, len);

  const std::vector<int32_t> buckets =
      relative_position_buckets(len, len, /*bidirectional=*/true, cfg_.num_buckets, cfg_.max_distance);
  Tensor shared_bias;
  if (cfg_.shared_pos) shared_bias = position_bias(shared_pos_table_, buckets, len, len);

  Tensor x = ops::embedding(ids64, token_embedding_);  // [B, L, dim]
  for (const Block& blk : blocks_) {
    Tensor pos_bias = cfg_.shared_pos ? shared_bias : position_bias(blk.pos_table, buckets, len, len);
    Tensor attn_in = ops::rms_norm(x, &blk.norm1, cfg_.eps);
    Tensor attn_out = self_attention(blk, attn_in, pos_bias, attn_mask);
    x = ops::add(x, attn_out);
    Tensor ffn_in = ops::rms_norm(x, &blk.norm2, cfg_.eps);
    Tensor ffn_out = feed_forward(blk, ffn_in);
    x = ops::add(x, ffn_out);
  }
  return ops::rms_norm(x, &norm_, cfg_.eps);
}

std::vector<Tensor> T5Encoder::encode_trimmed(const Tensor& ids, const Tensor& mask) const {
  if (ids.ndim() != 2 || !mask.defined() || mask.shape() != ids.shape()) {
    throw Error(ErrorCode::kInvalidArgument, "T5 encoder: encode_trimmed needs ids and mask of the same [B, L] shape, got " +
                                                 shape_str(ids.shape()) + " and " +
                                                 (mask.defined() ? shape_str(mask.shape()) : std::string("none")));
  }
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  std::vector<int64_t> m = int_values(mask, "mask");
  std::vector<Tensor> out;
  out.reserve(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* row = m.data() + b * len;
    const int64_t n_real = std::count_if(row, row + len, [](int64_t v) { return v > 0; });
    const int64_t n_nonzero = std::count_if(row, row + len, [](int64_t v) { return v != 0; });
    bool prefix = n_real == n_nonzero;
    for (int64_t j = 0; j < n_real && prefix; ++j) prefix = row[j] > 0;
    Tensor ids_b = ids.narrow(0, b, 1);
    if (n_real == 0) {
      out.push_back(Tensor::zeros({0, cfg_.dim}));
    } else if (prefix) {
      // Real tokens only: the same rows as the full forward, without the padding's cost.
      out.push_back(forward(ids_b.narrow(1, 0, n_real), Tensor()).select(0, 0).contiguous());
    } else {
      Tensor full = forward(ids_b, mask.narrow(0, b, 1));
      out.push_back(full.select(0, 0).narrow(0, 0, n_real).contiguous());
    }
  }
  return out;
}

}  // namespace wan22::models::text
