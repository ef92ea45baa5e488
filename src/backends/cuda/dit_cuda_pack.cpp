#include "backends/cuda/dit_cuda_pack.h"

#include "core/status.h"

namespace wan22::cuda::detail {

namespace {
constexpr size_t kAlign = 256;
size_t align_up(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
}  // namespace

PackLayout pack_layout(const DitConfig& c, WeightFormat format) {
  const int64_t D = c.dim, F = c.ffn_dim;
  const DType mat = format == WeightFormat::kFP8    ? DType::kF8E4M3
                    : format == WeightFormat::kInt8 ? DType::kI8
                                                    : DType::kBF16;
  using B = DitBlockWeights;
  PackLayout l;
  auto add = [&](Tensor B::*m, const char* name, DType dt, Shape s) { l.entries.push_back({m, name, dt, std::move(s)}); };
  add(&B::qkv_w, "self_attn.q|k|v.weight", mat, {3 * D, D});
  add(&B::qkv_b, "self_attn.q|k|v.bias", DType::kBF16, {3 * D});
  add(&B::o_w, "self_attn.o.weight", mat, {D, D});
  add(&B::o_b, "self_attn.o.bias", DType::kBF16, {D});
  add(&B::norm_q, "self_attn.norm_q.weight", DType::kF32, {D});
  add(&B::norm_k, "self_attn.norm_k.weight", DType::kF32, {D});
  add(&B::norm3_w, "norm3.weight", DType::kF32, {D});
  add(&B::norm3_b, "norm3.bias", DType::kF32, {D});
  add(&B::cq_w, "cross_attn.q.weight", mat, {D, D});
  add(&B::cq_b, "cross_attn.q.bias", DType::kBF16, {D});
  add(&B::ckv_w, "cross_attn.k|v.weight", mat, {2 * D, D});
  add(&B::ckv_b, "cross_attn.k|v.bias", DType::kBF16, {2 * D});
  add(&B::co_w, "cross_attn.o.weight", mat, {D, D});
  add(&B::co_b, "cross_attn.o.bias", DType::kBF16, {D});
  add(&B::cnorm_q, "cross_attn.norm_q.weight", DType::kF32, {D});
  add(&B::cnorm_k, "cross_attn.norm_k.weight", DType::kF32, {D});
  add(&B::ffn1_w, "ffn.0.weight", mat, {F, D});
  add(&B::ffn1_b, "ffn.0.bias", DType::kBF16, {F});
  add(&B::ffn2_w, "ffn.2.weight", mat, {D, F});
  add(&B::ffn2_b, "ffn.2.bias", DType::kBF16, {D});
  if (format == WeightFormat::kFP8 || format == WeightFormat::kInt8) {
    add(&B::qkv_s, "self_attn.q|k|v.scale", DType::kF32, {3 * D});
    add(&B::o_s, "self_attn.o.scale", DType::kF32, {D});
    add(&B::cq_s, "cross_attn.q.scale", DType::kF32, {D});
    add(&B::ckv_s, "cross_attn.k|v.scale", DType::kF32, {2 * D});
    add(&B::co_s, "cross_attn.o.scale", DType::kF32, {D});
    add(&B::ffn1_s, "ffn.0.scale", DType::kF32, {F});
    add(&B::ffn2_s, "ffn.2.scale", DType::kF32, {D});
  }
  size_t off = 0;
  for (auto& e : l.entries) {
    e.offset = off;
    off = align_up(off + static_cast<size_t>(shape_numel(e.shape)) * dtype_size(e.dtype));
  }
  l.bytes = off;
  return l;
}

void pack_views(const PackLayout& layout, const Tensor& pack, DitBlockWeights& into) {
  WAN22_CHECK(pack.defined() && pack.nbytes() >= layout.bytes, "DiT block pack smaller than its layout");
  auto* base = static_cast<unsigned char*>(pack.raw_data());
  std::shared_ptr<void> keep = pack.storage();
  for (const auto& e : layout.entries) {
    into.*(e.member) = Tensor::from_blob(base + e.offset, e.shape, e.dtype, pack.device(), keep);
  }
}

const PackEntry& pack_entry(const PackLayout& layout, Tensor DitBlockWeights::*member) {
  for (const auto& e : layout.entries) {
    if (e.member == member) return e;
  }
  throw Error(ErrorCode::kInternal, "DiT block pack: no entry for the requested weight");
}

}  // namespace wan22::cuda::detail
