// A random UMT5 checkpoint for the CUDA text-encoder tests (test_cuda_t5*.cpp).
#pragma once
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cuda_test_util.h"
#include "io/safetensors.h"
#include "models/text/t5_config.h"

namespace wan22::test {

// A checkpoint with official key names: bf16 linears/embedding, f32 norms and position tables.
inline std::string write_random_t5(const models::text::T5Config& c, uint64_t seed,
                                   const std::string& name = "t5_random") {
  std::vector<std::pair<std::string, Tensor>> t;
  uint64_t s = seed;
  auto lin = [&](const std::string& k, int64_t out, int64_t in) {
    const float a = std::sqrt(3.0f / static_cast<float>(in));
    t.emplace_back(k, random_tensor({out, in}, ++s, -a, a).to(DType::kBF16));
  };
  auto vec = [&](const std::string& k, const Shape& shape, float lo, float hi) {
    t.emplace_back(k, random_tensor(shape, ++s, lo, hi));
  };
  t.emplace_back("token_embedding.weight", random_tensor({c.vocab, c.dim}, ++s, -1.0f, 1.0f).to(DType::kBF16));
  if (c.shared_pos) vec("pos_embedding.embedding.weight", {c.num_buckets, c.num_heads}, -1.0f, 1.0f);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    vec(p + "norm1.weight", {c.dim}, 0.5f, 1.5f);
    lin(p + "attn.q.weight", c.dim_attn, c.dim);
    lin(p + "attn.k.weight", c.dim_attn, c.dim);
    lin(p + "attn.v.weight", c.dim_attn, c.dim);
    lin(p + "attn.o.weight", c.dim, c.dim_attn);
    if (!c.shared_pos) vec(p + "pos_embedding.embedding.weight", {c.num_buckets, c.num_heads}, -1.0f, 1.0f);
    vec(p + "norm2.weight", {c.dim}, 0.5f, 1.5f);
    lin(p + "ffn.gate.0.weight", c.dim_ffn, c.dim);
    lin(p + "ffn.fc1.weight", c.dim_ffn, c.dim);
    lin(p + "ffn.fc2.weight", c.dim, c.dim_ffn);
  }
  vec("norm.weight", {c.dim}, 0.5f, 1.5f);
  const std::string path = temp_dir() + "/" + name + ".safetensors";
  io::write_safetensors(path, t);
  return path;
}

}  // namespace wan22::test
