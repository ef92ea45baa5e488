// The CUDA DiT from a checkpoint: the model config mapped onto cuda::DitConfig, and every weight
// read from a WeightStore by its official key name into the device layout (see dit_cuda.h).
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "backends/cuda/device_tensor.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/dit_cuda_pack.h"
#include "backends/cuda/dit_fp8.h"
#include "backends/cuda/dit_int8.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "io/tensor_source.h"
#include "io/weight_store.h"
#include "models/dit/dit_config.h"

namespace wan22::cuda {

DitConfig dit_config_from(const models::dit::DitConfig& c) {
  auto unsupported = [](const std::string& what) {
    throw Error(ErrorCode::kUnsupported, "CUDA DiT: " + what);
  };
  if (!c.qk_norm) unsupported("qk_norm = false is not implemented (every Wan2.2 model has it)");
  if (!c.cross_attn_norm) unsupported("cross_attn_norm = false is not implemented (every Wan2.2 model has it)");
  if (c.patch_size[0] != 1) unsupported("temporal patch size " + std::to_string(c.patch_size[0]) + " (only 1)");
  if (c.num_heads <= 0 || c.dim % c.num_heads != 0) {
    throw Error(ErrorCode::kInvalidArgument, "CUDA DiT: dim " + std::to_string(c.dim) + " is not a multiple of " +
                                                 std::to_string(c.num_heads) + " heads");
  }
  const int64_t hd = c.dim / c.num_heads;
  if (hd != 32 && hd != 64 && hd != 128) unsupported("head dim " + std::to_string(hd) + " (32, 64 or 128)");
  DitConfig d;
  d.dim = c.dim;
  d.ffn_dim = c.ffn_dim;
  d.heads = c.num_heads;
  d.layers = c.num_layers;
  d.freq_dim = c.freq_dim;
  d.text_dim = c.text_dim;
  d.text_len = c.text_len;
  d.in_dim = c.in_dim;
  d.out_dim = c.out_dim;
  d.patch_t = static_cast<int>(c.patch_size[0]);
  d.patch_h = static_cast<int>(c.patch_size[1]);
  d.patch_w = static_cast<int>(c.patch_size[2]);
  d.eps = static_cast<float>(c.eps);
  d.rope_theta = c.rope_theta;
  d.sinusoid_f64 = c.sinusoid_f64;
  return d;
}

namespace {

// Checks presence and shape; the message names the key as asked, the stored name and the file.
void expect(const io::WeightStore& ws, const std::string& key, const Shape& shape) {
  if (!ws.contains(key)) {
    const std::string stored = ws.resolve(key);
    throw Error(ErrorCode::kNotFound, "CUDA DiT load: missing weight '" + key + "'" +
                                          (stored != key ? " (looked up as '" + stored + "')" : std::string()));
  }
  const auto& info = ws.info(key);
  if (info.shape != shape) {
    throw Error(ErrorCode::kInvalidArgument, "CUDA DiT load: weight '" + key + "' in " + ws.file_of(key) +
                                                 " has shape " + shape_str(info.shape) + ", expected " +
                                                 shape_str(shape));
  }
}

// The weight converted to `dt`, contiguous, on the host.
Tensor host_weight(const io::WeightStore& ws, const std::string& key, const Shape& stored_shape, DType dt) {
  expect(ws, key, stored_shape);
  return ws.get(key).to(dt).contiguous();
}

// Uploads a host tensor into a fresh device tensor of `shape` (same element count).
Tensor upload(const Tensor& host, const Shape& shape, cudaStream_t st) {
  Tensor d = Tensor::empty(shape, host.dtype(), gpu());
  WAN22_CHECK(d.nbytes() == host.nbytes(), "CUDA DiT load: size mismatch for " + shape_str(shape));
  // Pageable source: the call returns once the bytes are staged, so `host` may die afterwards.
  WAN22_CUDA_CHECK(cudaMemcpyAsync(d.raw_data(), host.raw_data(), host.nbytes(), cudaMemcpyHostToDevice, st));
  return d;
}

Tensor load_to_device(const io::WeightStore& ws, const std::string& key, const Shape& stored_shape, const Shape& shape,
                      DType dt, cudaStream_t st) {
  return upload(host_weight(ws, key, stored_shape, dt), shape, st);
}

// The checkpoint keys (under blocks.N.) that make up each pack entry, stacked along dim 0.
struct Source {
  Tensor DitBlockWeights::*member;
  std::vector<std::string> parts;
};
using B = DitBlockWeights;
const std::vector<Source>& block_sources() {
  static const std::vector<Source> s = {
      {&B::qkv_w, {"self_attn.q.weight", "self_attn.k.weight", "self_attn.v.weight"}},
      {&B::qkv_b, {"self_attn.q.bias", "self_attn.k.bias", "self_attn.v.bias"}},
      {&B::o_w, {"self_attn.o.weight"}},
      {&B::o_b, {"self_attn.o.bias"}},
      {&B::norm_q, {"self_attn.norm_q.weight"}},
      {&B::norm_k, {"self_attn.norm_k.weight"}},
      {&B::norm3_w, {"norm3.weight"}},
      {&B::norm3_b, {"norm3.bias"}},
      {&B::cq_w, {"cross_attn.q.weight"}},
      {&B::cq_b, {"cross_attn.q.bias"}},
      {&B::ckv_w, {"cross_attn.k.weight", "cross_attn.v.weight"}},
      {&B::ckv_b, {"cross_attn.k.bias", "cross_attn.v.bias"}},
      {&B::co_w, {"cross_attn.o.weight"}},
      {&B::co_b, {"cross_attn.o.bias"}},
      {&B::cnorm_q, {"cross_attn.norm_q.weight"}},
      {&B::cnorm_k, {"cross_attn.norm_k.weight"}},
      {&B::ffn1_w, {"ffn.0.weight"}},
      {&B::ffn1_b, {"ffn.0.bias"}},
      {&B::ffn2_w, {"ffn.2.weight"}},
      {&B::ffn2_b, {"ffn.2.bias"}},
  };
  return s;
}

// The seven matrices and their scale entries (fp8 / int8).
const std::vector<std::pair<Tensor B::*, Tensor B::*>>& quantised_matrices() {
  static const std::vector<std::pair<Tensor B::*, Tensor B::*>> m = {
      {&B::qkv_w, &B::qkv_s}, {&B::o_w, &B::o_s},       {&B::cq_w, &B::cq_s},     {&B::ckv_w, &B::ckv_s},
      {&B::co_w, &B::co_s},   {&B::ffn1_w, &B::ffn1_s}, {&B::ffn2_w, &B::ffn2_s}};
  return m;
}

// Fills `dst` (host memory laid out as `layout`, the bf16 format) with block `index`.
void fill_block_bf16(const io::WeightStore& ws, int64_t index, const detail::PackLayout& layout, unsigned char* dst) {
  const std::string prefix = "blocks." + std::to_string(index) + ".";
  for (const Source& src : block_sources()) {
    const detail::PackEntry& e = detail::pack_entry(layout, src.member);
    const int64_t parts = static_cast<int64_t>(src.parts.size());
    Shape part_shape = e.shape;
    part_shape[0] /= parts;
    const size_t part_bytes = static_cast<size_t>(shape_numel(part_shape)) * dtype_size(e.dtype);
    for (int64_t p = 0; p < parts; ++p) {
      Tensor t = host_weight(ws, prefix + src.parts[static_cast<size_t>(p)], part_shape, e.dtype);
      std::memcpy(dst + e.offset + static_cast<size_t>(p) * part_bytes, t.raw_data(), part_bytes);
    }
  }
}

}  // namespace

std::vector<std::string> DitCuda::checkpoint_keys() const {
  std::vector<std::string> k = {"patch_embedding.weight", "patch_embedding.bias", "text_embedding.0.weight",
                                "text_embedding.0.bias",  "text_embedding.2.weight", "text_embedding.2.bias",
                                "time_embedding.0.weight", "time_embedding.0.bias", "time_embedding.2.weight",
                                "time_embedding.2.bias",  "time_projection.1.weight", "time_projection.1.bias",
                                "head.modulation",        "head.head.weight",       "head.head.bias"};
  for (int64_t i = 0; i < cfg_.layers; ++i) {
    const std::string prefix = "blocks." + std::to_string(i) + ".";
    k.push_back(prefix + "modulation");
    for (const Source& src : block_sources()) {
      for (const auto& part : src.parts) k.push_back(prefix + part);
    }
  }
  return k;
}

void DitCuda::load(const io::WeightStore& ws, cudaStream_t st, const DitLoadOptions& opts) {
  const int64_t D = cfg_.dim, nl = cfg_.layers;
  const int64_t pin = cfg_.in_dim * cfg_.patch_t * cfg_.patch_h * cfg_.patch_w;
  const int64_t pout = cfg_.out_dim * cfg_.patch_t * cfg_.patch_h * cfg_.patch_w;
  stop_streaming();
  packs_.clear();
  w_ = DitWeights{};

  // ---- embeddings, time MLP, head ----
  w_.patch_w = load_to_device(ws, "patch_embedding.weight", {D, cfg_.in_dim, cfg_.patch_t, cfg_.patch_h, cfg_.patch_w},
                              {D, pin}, DType::kBF16, st);
  w_.patch_b = load_to_device(ws, "patch_embedding.bias", {D}, {D}, DType::kBF16, st);
  w_.text1_w = load_to_device(ws, "text_embedding.0.weight", {D, cfg_.text_dim}, {D, cfg_.text_dim}, DType::kBF16, st);
  w_.text1_b = load_to_device(ws, "text_embedding.0.bias", {D}, {D}, DType::kBF16, st);
  w_.text2_w = load_to_device(ws, "text_embedding.2.weight", {D, D}, {D, D}, DType::kBF16, st);
  w_.text2_b = load_to_device(ws, "text_embedding.2.bias", {D}, {D}, DType::kBF16, st);
  w_.time1_w = load_to_device(ws, "time_embedding.0.weight", {D, cfg_.freq_dim}, {D, cfg_.freq_dim}, DType::kBF16, st);
  w_.time1_b = load_to_device(ws, "time_embedding.0.bias", {D}, {D}, DType::kF32, st);
  w_.time2_w = load_to_device(ws, "time_embedding.2.weight", {D, D}, {D, D}, DType::kBF16, st);
  w_.time2_b = load_to_device(ws, "time_embedding.2.bias", {D}, {D}, DType::kF32, st);
  w_.proj_w = load_to_device(ws, "time_projection.1.weight", {6 * D, D}, {6 * D, D}, DType::kBF16, st);
  w_.proj_b = load_to_device(ws, "time_projection.1.bias", {6 * D}, {6 * D}, DType::kF32, st);
  w_.head_mod = load_to_device(ws, "head.modulation", {1, 2, D}, {2, D}, DType::kF32, st);
  w_.head_w = load_to_device(ws, "head.head.weight", {pout, D}, {pout, D}, DType::kBF16, st);
  w_.head_b = load_to_device(ws, "head.head.bias", {pout}, {pout}, DType::kBF16, st);

  // ---- blocks: staged in the bf16 layout on the host, then placed (device or pinned host) ----
  const int n_res = opts.resident_blocks < 0 || opts.resident_blocks > nl ? static_cast<int>(nl) : opts.resident_blocks;
  // fp8 / int8: each block goes to the device in bf16 and is quantised there per output row.
  const bool quantised = opts.format == WeightFormat::kFP8 || opts.format == WeightFormat::kInt8;
  format_ = opts.format;
  const detail::PackLayout lb = detail::pack_layout(cfg_, WeightFormat::kBF16);
  const detail::PackLayout lf = detail::pack_layout(cfg_, opts.format);
  // host, bf16 layout (reused: synchronised per block)
  Tensor staging = pinned_empty({static_cast<int64_t>(lb.bytes)}, DType::kU8);
  Tensor dev_bf16_pack;                  // fp8 / int8 only: the bf16 block on the device
  if (quantised) dev_bf16_pack = Tensor::empty({static_cast<int64_t>(lb.bytes)}, DType::kU8, gpu());
  w_.blocks.assign(static_cast<size_t>(nl), DitBlockWeights{});
  packs_.assign(static_cast<size_t>(nl), Tensor());
  for (int64_t i = 0; i < nl; ++i) {
    DitBlockWeights& blk = w_.blocks[static_cast<size_t>(i)];
    const std::string prefix = "blocks." + std::to_string(i) + ".";
    blk.modulation = load_to_device(ws, prefix + "modulation", {1, 6, D}, {6, D}, DType::kF32, st);
    auto* stage = static_cast<unsigned char*>(staging.raw_data());
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // the previous block's upload of `staging` is done
    fill_block_bf16(ws, i, lb, stage);
    const bool resident = i < n_res;
    Tensor& pack = packs_[static_cast<size_t>(i)];
    if (!quantised) {
      if (resident) {
        pack = Tensor::empty({static_cast<int64_t>(lb.bytes)}, DType::kU8, gpu());
        WAN22_CUDA_CHECK(cudaMemcpyAsync(pack.raw_data(), stage, lb.bytes, cudaMemcpyHostToDevice, st));
      } else {
        pack = pinned_empty({static_cast<int64_t>(lb.bytes)}, DType::kU8);
        std::memcpy(pack.raw_data(), stage, lb.bytes);
      }
    } else {
      // bf16 block to the device, quantise the matrices per row into the fp8 / int8 pack, copy the rest
      WAN22_CUDA_CHECK(cudaMemcpyAsync(dev_bf16_pack.raw_data(), stage, lb.bytes, cudaMemcpyHostToDevice, st));
      Tensor target = Tensor::empty({static_cast<int64_t>(lf.bytes)}, DType::kU8, gpu());
      DitBlockWeights src, dst;
      detail::pack_views(lb, dev_bf16_pack, src);
      detail::pack_views(lf, target, dst);
      for (const auto& e : lb.entries) {
        bool is_matrix = false;
        for (const auto& [w, s] : quantised_matrices()) {
          if (w != e.member) continue;
          is_matrix = true;
          const Tensor& sw = src.*w;
          const auto* wb = static_cast<const bf16*>(sw.raw_data());
          auto* scale = static_cast<float*>((dst.*s).raw_data());
          if (opts.format == WeightFormat::kFP8) {
            quantize_rows_e4m3(wb, sw.dim(0), sw.dim(1), static_cast<uint8_t*>((dst.*w).raw_data()), scale, st);
          } else {
            quantize_rows_int8(wb, sw.dim(0), sw.dim(1), static_cast<int8_t*>((dst.*w).raw_data()), scale, st);
          }
        }
        if (!is_matrix) {
          WAN22_CUDA_CHECK(cudaMemcpyAsync((dst.*e.member).raw_data(), (src.*e.member).raw_data(), (src.*e.member).nbytes(),
                                           cudaMemcpyDeviceToDevice, st));
        }
      }
      if (resident) {
        pack = target;
      } else {
        pack = pinned_empty({static_cast<int64_t>(lf.bytes)}, DType::kU8);
        WAN22_CUDA_CHECK(cudaMemcpyAsync(pack.raw_data(), target.raw_data(), lf.bytes, cudaMemcpyDeviceToHost, st));
        WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // `target` goes back to the allocator
      }
    }
    rebuild_views(static_cast<size_t>(i));
  }
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  resident_ = n_res;
  if (n_res < nl) start_streaming();
}

// ---- load-ready form ----

namespace {

struct NonBlock {
  const char* name;
  Tensor DitWeights::*member;
  DType dtype;
  Shape shape;
};

// The weights outside the blocks, in their device dtypes and shapes.
std::vector<NonBlock> non_block_weights(const DitConfig& c) {
  const int64_t D = c.dim;
  const int64_t pin = c.in_dim * c.patch_t * c.patch_h * c.patch_w;
  const int64_t pout = c.out_dim * c.patch_t * c.patch_h * c.patch_w;
  using W = DitWeights;
  return {{"patch_w", &W::patch_w, DType::kBF16, {D, pin}},     {"patch_b", &W::patch_b, DType::kBF16, {D}},
          {"text1_w", &W::text1_w, DType::kBF16, {D, c.text_dim}}, {"text1_b", &W::text1_b, DType::kBF16, {D}},
          {"text2_w", &W::text2_w, DType::kBF16, {D, D}},       {"text2_b", &W::text2_b, DType::kBF16, {D}},
          {"time1_w", &W::time1_w, DType::kBF16, {D, c.freq_dim}}, {"time1_b", &W::time1_b, DType::kF32, {D}},
          {"time2_w", &W::time2_w, DType::kBF16, {D, D}},       {"time2_b", &W::time2_b, DType::kF32, {D}},
          {"proj_w", &W::proj_w, DType::kBF16, {6 * D, D}},     {"proj_b", &W::proj_b, DType::kF32, {6 * D}},
          {"head_mod", &W::head_mod, DType::kF32, {2, D}},      {"head_w", &W::head_w, DType::kBF16, {pout, D}},
          {"head_b", &W::head_b, DType::kBF16, {pout}}};
}

}  // namespace

std::vector<io::SafetensorsEntry> DitCuda::load_ready_entries() const {
  if (packs_.size() != static_cast<size_t>(cfg_.layers)) {
    throw Error(ErrorCode::kInvalidArgument, "DitCuda::load_ready_entries: weights not loaded");
  }
  std::vector<io::SafetensorsEntry> e;
  for (const NonBlock& nb : non_block_weights(cfg_)) e.push_back({nb.name, nb.dtype, nb.shape});
  const int64_t bytes = static_cast<int64_t>(detail::pack_layout(cfg_, format_).bytes);
  for (int64_t i = 0; i < cfg_.layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    e.push_back({b + "modulation", DType::kF32, {6, cfg_.dim}});
    e.push_back({b + "pack", DType::kU8, {bytes}});
  }
  return e;
}

Tensor DitCuda::load_ready_tensor(size_t i, cudaStream_t st) const {
  const std::vector<NonBlock> nb = non_block_weights(cfg_);
  const Tensor* t = nullptr;
  if (i < nb.size()) {
    t = &(w_.*(nb[i].member));
  } else {
    const size_t k = i - nb.size(), block = k / 2;
    if (block >= packs_.size()) throw Error(ErrorCode::kInvalidArgument, "DitCuda::load_ready_tensor: no entry " + std::to_string(i));
    t = k % 2 == 0 ? &w_.blocks[block].modulation : &packs_[block];
  }
  if (!t->device().is_cuda()) return *t;  // a pinned pack: written as it is
  Tensor host = Tensor::empty(t->shape(), t->dtype());
  WAN22_CUDA_CHECK(cudaMemcpyAsync(host.raw_data(), t->raw_data(), t->nbytes(), cudaMemcpyDeviceToHost, st));
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  return host;
}

std::string DitCuda::load_ready_signature(WeightFormat format) const {
  const detail::PackLayout l = detail::pack_layout(cfg_, format);
  std::ostringstream s;
  s << "cuda dit " << weight_format_name(format) << " pack " << l.bytes << " entries";
  for (const auto& e : l.entries) s << ' ' << e.name << '@' << e.offset;
  s << " dim " << cfg_.dim << " ffn " << cfg_.ffn_dim << " heads " << cfg_.heads << " layers " << cfg_.layers
    << " text " << cfg_.text_dim << " freq " << cfg_.freq_dim << " in " << cfg_.in_dim << " out " << cfg_.out_dim
    << " patch " << cfg_.patch_t << 'x' << cfg_.patch_h << 'x' << cfg_.patch_w;
  return s.str();
}

void DitCuda::load_ready(const io::TensorSource& src, cudaStream_t st, const DitLoadOptions& opts) {
  std::map<std::string, const io::TensorInfo*> by_name;
  for (const auto& t : src.tensors()) by_name[t.name] = &t;
  auto get = [&](const std::string& name, DType dt, const Shape& shape) -> Tensor {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      throw Error(ErrorCode::kCorruptData, src.path() + ": load-ready DiT weights lack '" + name + "'");
    }
    const io::TensorInfo& info = *it->second;
    if (info.dtype != dt || info.shape != shape) {
      throw Error(ErrorCode::kCorruptData, src.path() + ": load-ready DiT weight '" + name + "' is " +
                                               dtype_name(info.dtype) + " " + shape_str(info.shape) + ", expected " +
                                               dtype_name(dt) + " " + shape_str(shape));
    }
    return src.load(info);  // a view into the mapping
  };
  auto to_device = [&](const Tensor& host) {
    Tensor d = Tensor::empty(host.shape(), host.dtype(), gpu());
    WAN22_CUDA_CHECK(cudaMemcpyAsync(d.raw_data(), host.raw_data(), host.nbytes(), cudaMemcpyHostToDevice, st));
    return d;
  };
  stop_streaming();
  packs_.clear();
  w_ = DitWeights{};
  format_ = opts.format;
  for (const NonBlock& nb : non_block_weights(cfg_)) w_.*(nb.member) = to_device(get(nb.name, nb.dtype, nb.shape));
  const int nl = static_cast<int>(cfg_.layers);
  const int n_res = opts.resident_blocks < 0 || opts.resident_blocks > nl ? nl : opts.resident_blocks;
  const int64_t bytes = static_cast<int64_t>(detail::pack_layout(cfg_, format_).bytes);
  w_.blocks.assign(static_cast<size_t>(nl), DitBlockWeights{});
  packs_.assign(static_cast<size_t>(nl), Tensor());
  for (int i = 0; i < nl; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    w_.blocks[static_cast<size_t>(i)].modulation = to_device(get(b + "modulation", DType::kF32, {6, cfg_.dim}));
    const Tensor mapped = get(b + "pack", DType::kU8, {bytes});
    Tensor& pack = packs_[static_cast<size_t>(i)];
    if (i < n_res) {
      pack = to_device(mapped);
    } else {
      pack = pinned_empty({bytes}, DType::kU8);
      std::memcpy(pack.raw_data(), mapped.raw_data(), static_cast<size_t>(bytes));
    }
    rebuild_views(static_cast<size_t>(i));
  }
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  resident_ = n_res;
  if (n_res < nl) start_streaming();
}

}  // namespace wan22::cuda
