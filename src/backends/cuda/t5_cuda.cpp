// The UMT5 encoder on the GPU (see t5_cuda.h).
#include "backends/cuda/device_tensor.h"
#include "backends/cuda/t5_cuda.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/t5_kernels.h"
#include "core/log.h"
#include "core/status.h"
#include "models/text/t5_key_alias.h"
#include "models/text/t5_position_bias.h"

#define WAN22_T5_CUBLAS_CHECK(expr)                                                                    \
  do {                                                                                                 \
    cublasStatus_t s_ = (expr);                                                                        \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                 \
      throw ::wan22::Error(::wan22::ErrorCode::kInternal, std::string("cuBLAS error ") +              \
                                                              cublasGetStatusString(s_) + " in " #expr \
                                                              " at " __FILE__ ":" +                    \
                                                              std::to_string(__LINE__));               \
    }                                                                                                  \
  } while (0)

namespace wan22::cuda {

using models::text::T5Config;

namespace {

void ensure_device() {
  if (allocator() == nullptr) init();  // throws kUnsupported naming the reason without a GPU
}

// The stored tensor of `key` after checking its shape and dtype (the CPU encoder's messages).
Tensor host_weight(const io::WeightStore& ws, const std::string& key, const Shape& shape) {
  const io::TensorInfo& info = ws.info(key);
  if (info.shape != shape) {
    throw Error(ErrorCode::kInvalidArgument, "T5 weight '" + key + "' in " + ws.file_of(key) + " has shape " +
                                                 shape_str(info.shape) + ", expected " + shape_str(shape));
  }
  if (!dtype_is_float(info.dtype)) {
    throw Error(ErrorCode::kUnsupported, "T5 weight '" + key + "' in " + ws.file_of(key) + " has dtype " +
                                             dtype_name(info.dtype) + ", expected a float type");
  }
  return ws.get(key);
}

// Copies host tensor `h` (any float dtype) converted to dt into dev at element offset `at`.
void upload(const Tensor& h, DType dt, Tensor& dev, int64_t at) {
  const Tensor c = h.to(dt).contiguous();
  WAN22_CHECK(at + c.numel() <= dev.numel(), "T5Cuda upload out of range");
  char* dst = static_cast<char*>(dev.raw_data()) + static_cast<size_t>(at) * dtype_size(dt);
  WAN22_CUDA_CHECK(cudaMemcpy(dst, c.raw_data(), c.nbytes(), cudaMemcpyHostToDevice));
}

// Integer values of a host [B, L] tensor (int32 / int64 / bool / integral float).
std::vector<int64_t> int_values(const Tensor& t, const char* what) {
  if (!t.device().is_cpu()) {
    throw Error(ErrorCode::kInvalidArgument, std::string("T5Cuda: ") + what + " must be a host tensor, got " + t.str());
  }
  const Tensor c = t.contiguous();
  std::vector<int64_t> v(static_cast<size_t>(c.numel()));
  switch (c.dtype()) {
    case DType::kI64: std::copy_n(c.data<int64_t>(), v.size(), v.begin()); break;
    case DType::kI32: std::copy_n(c.data<int32_t>(), v.size(), v.begin()); break;
    default: {
      if (!(dtype_is_float(c.dtype()) || c.dtype() == DType::kBool || c.dtype() == DType::kU8 ||
            c.dtype() == DType::kI8 || c.dtype() == DType::kI16)) {
        throw Error(ErrorCode::kInvalidArgument,
                    std::string("T5Cuda: unsupported dtype ") + dtype_name(c.dtype()) + " for " + what);
      }
      const std::vector<float> f = c.to_vector();
      for (size_t i = 0; i < f.size(); ++i) v[i] = static_cast<int64_t>(f[i]);
    }
  }
  return v;
}

// Fills bf16 tensor `t` (device) with uniform(+-sqrt(3 / fan_in)).
void rand_bf16(const Tensor& t, uint64_t seed, double fan_in, cudaStream_t st) {
  const float a = static_cast<float>(std::sqrt(3.0 / fan_in));
  fill_uniform_bf16(bp(t), t.numel(), seed, -a, a, st);
}

// Rows of the random embedding drawn per seed (and the scratch chunk of a host embedding: 64 MiB at
// UMT5-XXL's dim).
constexpr int64_t kRandomEmbedRows = 8192;

int clamp_resident(int n, int layers) { return n < 0 || n > layers ? layers : n; }

}  // namespace

// ---------------- construction ----------------

T5Cuda::BlasHandle::BlasHandle() { WAN22_T5_CUBLAS_CHECK(cublasCreate(&h)); }
T5Cuda::BlasHandle::~BlasHandle() {
  if (h) cublasDestroy(h);
}

T5Cuda::~T5Cuda() = default;

void T5Cuda::make_layouts() {
  const int64_t d = cfg_.dim, da = cfg_.dim_attn, df = cfg_.dim_ffn, nb = cfg_.num_buckets, H = cfg_.num_heads;
  layer_layout_ = {};
  layer_layout_.add(&Block::qkv, DType::kBF16, {3 * da, d});
  layer_layout_.add(&Block::o, DType::kBF16, {d, da});
  layer_layout_.add(&Block::ffn_in, DType::kBF16, {2 * df, d});
  layer_layout_.add(&Block::fc2, DType::kBF16, {d, df});
  layer_layout_.add(&Block::norm1, DType::kF32, {d});
  layer_layout_.add(&Block::norm2, DType::kF32, {d});
  if (!cfg_.shared_pos) layer_layout_.add(&Block::pos, DType::kF32, {nb, H});
  globals_layout_ = {};
  globals_layout_.add(&Globals::final_norm, DType::kF32, {d});
  if (cfg_.shared_pos) globals_layout_.add(&Globals::shared_pos, DType::kF32, {nb, H});
}

T5Cuda::T5Cuda(const io::WeightStore& ws, const T5Config& cfg, cudaStream_t stream, T5CudaOptions opt)
    : cfg_(cfg), opt_(opt) {
  cfg_.validate();
  ensure_device();
  make_layouts();
  const int64_t d = cfg_.dim, da = cfg_.dim_attn, df = cfg_.dim_ffn, nb = cfg_.num_buckets, H = cfg_.num_heads;
  const int nl = static_cast<int>(cfg_.num_layers);
  resident_ = clamp_resident(opt_.resident_layers, nl);
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));  // uploads below synchronise per piece

  const Tensor emb = host_weight(ws, "token_embedding.weight", {cfg_.vocab, d});
  if (opt_.embedding_on_host) {
    embedding_ = emb.to(DType::kBF16).contiguous();
  } else {
    embedding_ = dev_bf16({cfg_.vocab, d});
    upload(emb, DType::kBF16, embedding_, 0);
  }

  // Host tensor `h` converted to the entry's dtype into host pack `base` at element `at` of the entry.
  auto put = [](const auto& entry, const Tensor& h, unsigned char* base, int64_t at) {
    const Tensor c = h.to(entry.dtype).contiguous();
    WAN22_CHECK(at + c.numel() <= shape_numel(entry.shape), "T5Cuda pack write out of range");
    std::memcpy(base + entry.offset + static_cast<size_t>(at) * dtype_size(entry.dtype), c.raw_data(), c.nbytes());
  };

  // Globals: assembled in pinned host memory, then to the device.
  {
    Tensor g = pinned_empty({static_cast<int64_t>(globals_layout_.bytes)}, DType::kU8);
    auto* base = static_cast<unsigned char*>(g.raw_data());
    put(globals_layout_.entry(&Globals::final_norm), host_weight(ws, "norm.weight", {d}), base, 0);
    if (cfg_.shared_pos) {
      put(globals_layout_.entry(&Globals::shared_pos), host_weight(ws, "pos_embedding.embedding.weight", {nb, H}),
          base, 0);
    }
    globals_ = t5::copy_to(g, /*to_device=*/true, stream);
    WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));
    globals_layout_.views(globals_, globals_view_);
  }

  // Layers: each assembled in pinned host memory (dtype conversion on the host); a streamed layer
  // keeps that buffer, a resident one is uploaded from it (one staging buffer, reused).
  packs_.assign(static_cast<size_t>(nl), Tensor());
  blocks_.assign(static_cast<size_t>(nl), Block{});
  const int64_t pack_bytes = static_cast<int64_t>(layer_layout_.bytes);
  Tensor staging;
  for (int i = 0; i < nl; ++i) {
    const bool resident = i < resident_;
    if (resident && !staging.defined()) staging = pinned_empty({pack_bytes}, DType::kU8);
    Tensor host_pack = resident ? staging : pinned_empty({pack_bytes}, DType::kU8);
    auto* base = static_cast<unsigned char*>(host_pack.raw_data());
    const std::string p = "blocks." + std::to_string(i) + ".";
    auto entry = [&](Tensor Block::*m) -> const auto& { return layer_layout_.entry(m); };
    put(entry(&Block::norm1), host_weight(ws, p + "norm1.weight", {d}), base, 0);
    put(entry(&Block::norm2), host_weight(ws, p + "norm2.weight", {d}), base, 0);
    put(entry(&Block::qkv), host_weight(ws, p + "attn.q.weight", {da, d}), base, 0);
    put(entry(&Block::qkv), host_weight(ws, p + "attn.k.weight", {da, d}), base, da * d);
    put(entry(&Block::qkv), host_weight(ws, p + "attn.v.weight", {da, d}), base, 2 * da * d);
    put(entry(&Block::o), host_weight(ws, p + "attn.o.weight", {d, da}), base, 0);
    if (!cfg_.shared_pos) {
      put(entry(&Block::pos), host_weight(ws, p + "pos_embedding.embedding.weight", {nb, H}), base, 0);
    }
    put(entry(&Block::ffn_in), host_weight(ws, p + "ffn.gate.0.weight", {df, d}), base, 0);
    put(entry(&Block::ffn_in), host_weight(ws, p + "ffn.fc1.weight", {df, d}), base, df * d);
    put(entry(&Block::fc2), host_weight(ws, p + "ffn.fc2.weight", {d, df}), base, 0);
    Tensor& pack = packs_[static_cast<size_t>(i)];
    if (resident) {
      pack = t5::copy_to(host_pack, /*to_device=*/true, stream);
      WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));  // `staging` is refilled by the next layer
    } else {
      pack = host_pack;
    }
    layer_layout_.views(pack, blocks_[static_cast<size_t>(i)]);
  }
}

T5Cuda::T5Cuda(const T5Config& cfg, uint64_t seed, cudaStream_t st, T5CudaOptions opt) : cfg_(cfg), opt_(opt) {
  cfg_.validate();
  ensure_device();
  make_layouts();
  const int64_t d = cfg_.dim, da = cfg_.dim_attn, df = cfg_.dim_ffn;
  const int nl = static_cast<int>(cfg_.num_layers);
  resident_ = clamp_resident(opt_.resident_layers, nl);
  uint64_t s = seed * 1000003ull;
  auto next = [&]() { return ++s; };

  // Embedding: chunks of kRandomEmbedRows rows, chunk c drawn from seed emb_seed + c (the same values
  // whether filled in place on the device or through the scratch chunk into host memory).
  const uint64_t emb_seed = next();
  const int64_t chunk = std::min<int64_t>(kRandomEmbedRows, cfg_.vocab);
  Tensor emb_scratch;
  if (opt_.embedding_on_host) {
    embedding_ = Tensor::empty({cfg_.vocab, d}, DType::kBF16);
    emb_scratch = dev_bf16({chunk, d});
  } else {
    embedding_ = dev_bf16({cfg_.vocab, d});
  }
  for (int64_t r0 = 0, c = 0; r0 < cfg_.vocab; r0 += chunk, ++c) {
    const int64_t rows = std::min(chunk, cfg_.vocab - r0);
    bf16* dst = opt_.embedding_on_host ? bp(emb_scratch) : bp(embedding_) + r0 * d;
    fill_uniform_bf16(dst, rows * d, emb_seed + static_cast<uint64_t>(c), -1.0f, 1.0f, st);
    if (opt_.embedding_on_host) {
      WAN22_CUDA_CHECK(cudaMemcpyAsync(static_cast<bf16*>(embedding_.raw_data()) + r0 * d, dst,
                                       static_cast<size_t>(rows * d) * sizeof(bf16), cudaMemcpyDeviceToHost, st));
      WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // the scratch chunk is refilled next
    }
  }
  emb_scratch = Tensor();

  globals_ = Tensor::empty({static_cast<int64_t>(globals_layout_.bytes)}, DType::kU8, gpu());
  globals_layout_.views(globals_, globals_view_);
  fill_uniform_f32(fp(globals_view_.final_norm), d, next(), 0.9f, 1.1f, st);
  const uint64_t shared_seed = next();
  if (cfg_.shared_pos) {
    fill_uniform_f32(fp(globals_view_.shared_pos), globals_view_.shared_pos.numel(), shared_seed, -0.5f, 0.5f, st);
  }

  // Layers: resident ones filled in their device pack, streamed ones in a device scratch pack that
  // is then copied into pinned host memory.
  packs_.assign(static_cast<size_t>(nl), Tensor());
  blocks_.assign(static_cast<size_t>(nl), Block{});
  const int64_t pack_bytes = static_cast<int64_t>(layer_layout_.bytes);
  Tensor scratch;
  for (int i = 0; i < nl; ++i) {
    const bool resident = i < resident_;
    if (!resident && !scratch.defined()) scratch = Tensor::empty({pack_bytes}, DType::kU8, gpu());
    Tensor dev = resident ? Tensor::empty({pack_bytes}, DType::kU8, gpu()) : scratch;
    Block v;
    layer_layout_.views(dev, v);
    fill_uniform_f32(fp(v.norm1), d, next(), 0.9f, 1.1f, st);
    fill_uniform_f32(fp(v.norm2), d, next(), 0.9f, 1.1f, st);
    rand_bf16(v.qkv, next(), static_cast<double>(d), st);
    rand_bf16(v.o, next(), static_cast<double>(da), st);
    rand_bf16(v.ffn_in, next(), static_cast<double>(d), st);
    rand_bf16(v.fc2, next(), static_cast<double>(df), st);
    const uint64_t pos_seed = next();
    if (!cfg_.shared_pos) fill_uniform_f32(fp(v.pos), v.pos.numel(), pos_seed, -0.5f, 0.5f, st);
    v = Block{};
    Tensor& pack = packs_[static_cast<size_t>(i)];
    if (resident) {
      pack = dev;
    } else {
      pack = t5::copy_to(dev, /*to_device=*/false, st);
      WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // the scratch pack is refilled by the next layer
    }
    layer_layout_.views(pack, blocks_[static_cast<size_t>(i)]);
  }
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
}

std::unique_ptr<T5Cuda> T5Cuda::load(const std::string& weights_path, const std::string& config_json,
                                     cudaStream_t stream, T5CudaOptions opt) {
  io::WeightStore ws = io::WeightStore::open(weights_path);
  const std::string layout = models::text::install_t5_key_map(ws);
  const T5Config cfg =
      config_json.empty() ? models::text::infer_t5_config(ws) : models::text::load_t5_config(config_json);
  LOG_INFO << "T5 encoder (CUDA) " << weights_path << " (" << layout << "): " << cfg.str();
  return std::make_unique<T5Cuda>(ws, cfg, stream, opt);
}

// ---------------- placement: resident / streamed layers, offload ----------------

int T5Cuda::device_layers() const { return offloaded_ ? 0 : resident_; }

void T5Cuda::place(int n_device, bool embedding_device, bool globals_device, cudaStream_t st) {
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // nothing enqueued still reads the weights
  auto rebuild_views = [&]() {
    for (size_t i = 0; i < packs_.size(); ++i) layer_layout_.views(packs_[i], blocks_[i]);
    globals_layout_.views(globals_, globals_view_);
  };
  // Pass 1: device -> pinned host (frees device memory); pass 2: pinned host -> device.
  for (const bool to_device : {false, true}) {
    std::vector<std::pair<Tensor*, Tensor>> moves;
    auto want = [&](Tensor& t, bool on_device) {
      if (t.defined() && on_device == to_device && t.device().is_cuda() != on_device) {
        moves.emplace_back(&t, t5::copy_to(t, on_device, st));
      }
    };
    for (size_t i = 0; i < packs_.size(); ++i) want(packs_[i], static_cast<int>(i) < n_device);
    if (!opt_.embedding_on_host) want(embedding_, embedding_device);
    want(globals_, globals_device);
    if (moves.empty()) continue;
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));  // the copies are done before their sources die
    for (auto& [slot, moved] : moves) *slot = std::move(moved);
    moves.clear();
    rebuild_views();  // the views held the old storage: it is released here
  }
}

void T5Cuda::set_resident_layers(int n, cudaStream_t st) {
  const int want = clamp_resident(n, static_cast<int>(cfg_.num_layers));
  if (offloaded_) {  // applied by restore()
    resident_ = want;
    return;
  }
  try {
    place(want, /*embedding_device=*/true, /*globals_device=*/true, st);
  } catch (...) {
    // Out of device memory for the uploads: place() assigned nothing of the failed pass, so the
    // device layers are still a prefix; keep calls consistent with where the packs are.
    int k = 0;
    while (k < static_cast<int>(packs_.size()) && packs_[static_cast<size_t>(k)].device().is_cuda()) ++k;
    resident_ = k;
    throw;
  }
  resident_ = want;
}

void T5Cuda::offload(cudaStream_t st) {
  if (offloaded_) return;
  place(0, /*embedding_device=*/false, /*globals_device=*/false, st);
  buckets_ = Tensor();  // place() synchronised: no work still reads it
  buckets_len_ = -1;
  offloaded_ = true;
}

void T5Cuda::restore(cudaStream_t st) {
  if (!offloaded_) return;
  place(resident_, /*embedding_device=*/true, /*globals_device=*/true, st);
  offloaded_ = false;
}

size_t T5Cuda::device_weight_bytes() const {
  size_t n = 0;
  for (const Tensor& p : packs_) n += p.defined() && p.device().is_cuda() ? p.nbytes() : 0;
  for (const Tensor* t : {&embedding_, &globals_}) n += t->defined() && t->device().is_cuda() ? t->nbytes() : 0;
  return n;
}

size_t T5Cuda::host_weight_bytes() const {
  size_t n = 0;
  for (const Tensor& p : packs_) n += p.defined() && p.device().is_cpu() ? p.nbytes() : 0;
  for (const Tensor* t : {&embedding_, &globals_}) n += t->defined() && t->device().is_cpu() ? t->nbytes() : 0;
  return n;
}

size_t T5Cuda::layer_pack_bytes() const { return layer_layout_.bytes; }

size_t T5Cuda::stream_slot_bytes() const {
  const int streamed = static_cast<int>(cfg_.num_layers) - device_layers();
  return static_cast<size_t>(std::min(2, streamed)) * layer_layout_.bytes;
}

double T5Cuda::flops(int64_t batch, int64_t len) const {
  const double N = static_cast<double>(batch * len), d = static_cast<double>(cfg_.dim),
               da = static_cast<double>(cfg_.dim_attn), df = static_cast<double>(cfg_.dim_ffn);
  const double gemm = 2.0 * N * (3 * da * d + da * d + 2 * df * d + df * d);
  const double attn = 4.0 * static_cast<double>(batch) * static_cast<double>(len) * static_cast<double>(len) * da;
  return (gemm + attn) * static_cast<double>(cfg_.num_layers);
}

// ---------------- forward pieces ----------------

void T5Cuda::upload_positions_for(int64_t len, cudaStream_t stream) {
  if (len == buckets_len_) return;
  std::vector<int32_t> host(static_cast<size_t>(2 * len - 1));
  for (int64_t off = -(len - 1); off <= len - 1; ++off) {
    host[static_cast<size_t>(off + len - 1)] = static_cast<int32_t>(
        models::text::relative_position_bucket(off, /*bidirectional=*/true, cfg_.num_buckets, cfg_.max_distance));
  }
  buckets_ = Tensor::empty({2 * len - 1}, DType::kI32, gpu());
  WAN22_CUDA_CHECK(cudaMemcpyAsync(buckets_.raw_data(), host.data(), host.size() * sizeof(int32_t),
                                   cudaMemcpyHostToDevice, stream));
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));  // `host` dies here
  buckets_len_ = len;
}

void T5Cuda::embed(const std::vector<int32_t>& ids, Tensor& x, cudaStream_t stream) {
  const int64_t n = static_cast<int64_t>(ids.size()), d = cfg_.dim;
  if (embedding_.device().is_cpu()) {
    // Gather on the host (bf16 rows -> f32), then one copy.
    std::vector<float> rows(static_cast<size_t>(n * d));
    const bf16* table = static_cast<const bf16*>(embedding_.raw_data());
    for (int64_t r = 0; r < n; ++r) {
      const bf16* src = table + static_cast<int64_t>(ids[static_cast<size_t>(r)]) * d;
      for (int64_t c = 0; c < d; ++c) rows[static_cast<size_t>(r * d + c)] = __bfloat162float(src[c]);
    }
    WAN22_CUDA_CHECK(cudaMemcpyAsync(x.raw_data(), rows.data(), rows.size() * sizeof(float), cudaMemcpyHostToDevice,
                                     stream));
    WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));
    return;
  }
  Tensor ids_d = Tensor::empty({n}, DType::kI32, gpu());
  WAN22_CUDA_CHECK(cudaMemcpyAsync(ids_d.raw_data(), ids.data(), ids.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                   stream));
  t5::embed_rows(static_cast<const int32_t*>(ids_d.raw_data()), bp(embedding_), fp(x), n, d, stream);
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));  // `ids` (host) must outlive the copy
}

// Self-attention of `batch` sequences of `len` tokens: qkv bf16 [batch * len, 3 * dim_attn] (q | k | v),
// attn_out bf16 [batch * len, dim_attn]. Scores S = K Q^T per head (fp32), probabilities P (bf16),
// O = P V, each as one strided-batched GEMM over the heads (column-major views of the row-major
// buffers: a head is a column offset of head_dim, the token stride is the row stride).
void T5Cuda::attention(const Tensor& qkv, const Tensor& pos_table, const uint8_t* keep, int64_t batch, int64_t len,
                       Tensor& attn_out, cudaStream_t stream) {
  const int64_t H = cfg_.num_heads, hd = cfg_.head_dim(), da = cfg_.dim_attn;
  const int ld_qkv = static_cast<int>(3 * da);
  const int64_t plane = len * len;
  Tensor scores = dev_f32({batch, H, len, len});
  Tensor probs = dev_bf16({batch, H, len, len});
  WAN22_T5_CUBLAS_CHECK(cublasSetStream(blas_.h, stream));
  const float one = 1.0f, zero = 0.0f;
  const int L = static_cast<int>(len), D = static_cast<int>(hd), Hn = static_cast<int>(H);
  for (int64_t b = 0; b < batch; ++b) {
    const bf16* q = bp(qkv) + b * len * 3 * da;
    const bf16* k = q + da;
    WAN22_T5_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        blas_.h, CUBLAS_OP_T, CUBLAS_OP_N, L, L, D, &one, k, CUDA_R_16BF, ld_qkv, hd, q, CUDA_R_16BF, ld_qkv, hd, &zero,
        fp(scores) + b * H * plane, CUDA_R_32F, L, plane, Hn, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  t5::bias_mask_softmax(fp(scores), static_cast<const int32_t*>(buckets_.raw_data()), fp(pos_table), keep, bp(probs),
                        batch, H, len, len, stream);
  for (int64_t b = 0; b < batch; ++b) {
    const bf16* v = bp(qkv) + b * len * 3 * da + 2 * da;
    WAN22_T5_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        blas_.h, CUBLAS_OP_N, CUBLAS_OP_N, D, L, L, &one, v, CUDA_R_16BF, ld_qkv, hd, bp(probs) + b * H * plane,
        CUDA_R_16BF, L, plane, &zero, bp(attn_out) + b * len * da, CUDA_R_16BF, static_cast<int>(da), hd, Hn,
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

Tensor T5Cuda::run(const std::vector<int32_t>& ids, const std::vector<uint8_t>& keep, int64_t batch, int64_t len,
                   cudaStream_t st) {
  const int64_t d = cfg_.dim, da = cfg_.dim_attn, df = cfg_.dim_ffn;
  const int64_t N = batch * len;
  if (len > 0x7fffffff / 4 || da > 0x7fffffff / 3) {
    throw Error(ErrorCode::kInvalidArgument, "T5Cuda: sequence length " + std::to_string(len) + " too large");
  }
  upload_positions_for(len, st);
  Tensor keep_d;
  if (!keep.empty()) {
    keep_d = Tensor::empty({batch, len}, DType::kU8, gpu());
    WAN22_CUDA_CHECK(cudaMemcpyAsync(keep_d.raw_data(), keep.data(), keep.size(), cudaMemcpyHostToDevice, st));
  }
  const uint8_t* keep_p = keep.empty() ? nullptr : static_cast<const uint8_t*>(keep_d.raw_data());

  // ---- weights: layers [0, first) on the device, the rest streamed through two slots ----
  const int nl = static_cast<int>(blocks_.size());
  const int first = device_layers();
  const int n_streamed = nl - first;
  Tensor slots[2];
  Block slot_view[2];
  if (n_streamed > 0) {
    if (!streamer_) streamer_ = std::make_unique<t5::LayerStreamer>();
    for (int sl = 0; sl < std::min(2, n_streamed); ++sl) {
      slots[sl] = Tensor::empty({static_cast<int64_t>(layer_layout_.bytes)}, DType::kU8, gpu());
      layer_layout_.views(slots[sl], slot_view[sl]);
    }
    streamer_->begin(st);  // the slots' memory may still be read by earlier work on `st`
  }
  // On an exception the slots go back to the allocator: wait for copies still writing them.
  struct CopyGuard {
    t5::LayerStreamer* streamer;
    int exceptions = std::uncaught_exceptions();
    ~CopyGuard() {
      if (streamer == nullptr || std::uncaught_exceptions() <= exceptions) return;
      try {
        streamer->synchronize();
      } catch (...) {  // already unwinding: the first error is the one to report
      }
    }
  } guard{n_streamed > 0 ? streamer_.get() : nullptr};
  auto issue = [&](int k) {  // k-th streamed layer into slot k % 2
    if (k < n_streamed) streamer_->issue(k & 1, packs_[static_cast<size_t>(first + k)], slots[k & 1]);
  };
  auto layer = [&](int i) -> const Block& {
    return i < first ? blocks_[static_cast<size_t>(i)] : slot_view[(i - first) & 1];
  };
  auto acquire = [&](int i) {  // before the first read of layer i (its norm1)
    if (i >= first) streamer_->acquire((i - first) & 1, st);
  };
  issue(0);
  issue(1);
  // The globals: resident, or (offloaded) uploaded for this call from their pinned pack.
  const Tensor globals_d = globals_.device().is_cuda() ? globals_ : t5::copy_to(globals_, /*to_device=*/true, st);
  Globals gv;
  globals_layout_.views(globals_d, gv);

  Tensor x = dev_f32({N, d});
  embed(ids, x, st);  // synchronises: the keep copy above is done too
  Tensor xn = dev_bf16({N, d});
  Tensor qkv = dev_bf16({N, 3 * da});
  Tensor attn = dev_bf16({N, da});
  Tensor y = dev_bf16({N, d});
  Tensor h = dev_bf16({N, 2 * df});
  Tensor g = dev_bf16({N, df});
  Tensor out = dev_f32({N, d});

  acquire(0);
  t5::rmsnorm_bf16(fp(x), nullptr, fp(layer(0).norm1), bp(xn), N, d, cfg_.eps, st);
  for (int i = 0; i < nl; ++i) {
    const Block& blk = layer(i);
    const Tensor& table = cfg_.shared_pos ? gv.shared_pos : blk.pos;
    gemm_.linear_bf16(bp(xn), bp(blk.qkv), nullptr, bp(qkv), N, 3 * da, d, Epilogue::kNone, st);
    attention(qkv, table, keep_p, batch, len, attn, st);
    gemm_.linear_bf16(bp(attn), bp(blk.o), nullptr, bp(y), N, d, da, Epilogue::kNone, st);
    t5::rmsnorm_bf16(fp(x), bp(y), fp(blk.norm2), bp(xn), N, d, cfg_.eps, st);  // x += attn; xn = norm2(x)
    gemm_.linear_bf16(bp(xn), bp(blk.ffn_in), nullptr, bp(h), N, 2 * df, d, Epilogue::kNone, st);
    t5::gated_gelu(bp(h), bp(g), N, df, st);
    gemm_.linear_bf16(bp(g), bp(blk.fc2), nullptr, bp(y), N, d, df, Epilogue::kNone, st);
    if (i >= first) {
      // the slot's weights are no longer read: the layer two ahead may overwrite it
      streamer_->release((i - first) & 1, st);
      issue(i - first + 2);
    }
    if (i + 1 < nl) {
      acquire(i + 1);
      t5::rmsnorm_bf16(fp(x), bp(y), fp(layer(i + 1).norm1), bp(xn), N, d, cfg_.eps, st);  // x += ffn; next norm1
    } else {
      t5::rmsnorm_f32(fp(x), bp(y), fp(gv.final_norm), fp(out), N, d, cfg_.eps, st);  // x += ffn; final norm
    }
  }
  if (offloaded_) {  // an offloaded encoder keeps nothing on the device between calls
    buckets_ = Tensor();
    buckets_len_ = -1;
  }
  return out;
}

// ---------------- public entry points ----------------

Tensor T5Cuda::forward(const Tensor& ids, const Tensor& mask, cudaStream_t stream) {
  if (ids.ndim() != 2 || ids.dim(1) < 1) {
    throw Error(ErrorCode::kInvalidArgument, "T5Cuda: ids must be [B, L] with L >= 1, got " + shape_str(ids.shape()));
  }
  if (mask.defined() && mask.shape() != ids.shape()) {
    throw Error(ErrorCode::kInvalidArgument, "T5Cuda: mask shape " + shape_str(mask.shape()) +
                                                 " does not match ids " + shape_str(ids.shape()));
  }
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  const std::vector<int64_t> idv = int_values(ids, "ids");
  std::vector<int32_t> id32(idv.size());
  for (size_t i = 0; i < idv.size(); ++i) {
    if (idv[i] < 0 || idv[i] >= cfg_.vocab) {
      throw Error(ErrorCode::kInvalidArgument, "T5Cuda: token id " + std::to_string(idv[i]) +
                                                   " outside the vocabulary [0, " + std::to_string(cfg_.vocab) + ")");
    }
    id32[i] = static_cast<int32_t>(idv[i]);
  }
  std::vector<uint8_t> keep;
  if (mask.defined()) {
    const std::vector<int64_t> mv = int_values(mask, "mask");
    keep.resize(mv.size());
    bool all_real = true;
    for (size_t i = 0; i < mv.size(); ++i) {
      keep[i] = mv[i] != 0;
      all_real = all_real && keep[i];
    }
    if (all_real) keep.clear();
  }
  if (batch == 0) return dev_f32({0, len, cfg_.dim});
  return run(id32, keep, batch, len, stream).view({batch, len, cfg_.dim});
}

Tensor T5Cuda::encode(const Tensor& ids, const Tensor& mask, cudaStream_t stream) {
  if (!(ids.ndim() == 1 || (ids.ndim() == 2 && ids.dim(0) == 1))) {
    throw Error(ErrorCode::kInvalidArgument, "T5Cuda::encode: ids must be [L] or [1, L], got " + shape_str(ids.shape()));
  }
  const int64_t len = ids.dim(-1);
  const Tensor ids2 = ids.reshape({1, len});
  const Tensor mask2 = mask.defined() ? mask.reshape({1, mask.numel()}) : Tensor();
  return forward(ids2, mask2, stream).view({len, cfg_.dim});
}

std::vector<Tensor> T5Cuda::encode_trimmed(const Tensor& ids, const Tensor& mask, cudaStream_t stream) {
  if (ids.ndim() != 2 || !mask.defined() || mask.shape() != ids.shape()) {
    throw Error(ErrorCode::kInvalidArgument,
                "T5Cuda: encode_trimmed needs ids and mask of the same [B, L] shape, got " + shape_str(ids.shape()) +
                    " and " + (mask.defined() ? shape_str(mask.shape()) : std::string("none")));
  }
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  const std::vector<int64_t> m = int_values(mask, "mask");
  std::vector<int64_t> n_real(static_cast<size_t>(batch));
  bool all_prefix = true;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* row = m.data() + b * len;
    const int64_t nr = std::count_if(row, row + len, [](int64_t v) { return v > 0; });
    const int64_t nz = std::count_if(row, row + len, [](int64_t v) { return v != 0; });
    bool prefix = nr == nz;
    for (int64_t j = 0; j < nr && prefix; ++j) prefix = row[j] > 0;
    n_real[static_cast<size_t>(b)] = nr;
    all_prefix = all_prefix && prefix;
  }
  std::vector<Tensor> out(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    if (n_real[static_cast<size_t>(b)] == 0) out[static_cast<size_t>(b)] = dev_f32({0, cfg_.dim});
  }
  if (all_prefix) {
    // The rows with real tokens, cut to the longest: one batch, the shorter rows' tails masked.
    std::vector<int64_t> rows;
    int64_t width = 0;
    for (int64_t b = 0; b < batch; ++b) {
      if (n_real[static_cast<size_t>(b)] > 0) {
        rows.push_back(b);
        width = std::max(width, n_real[static_cast<size_t>(b)]);
      }
    }
    if (rows.empty()) return out;
    const int64_t nb = static_cast<int64_t>(rows.size());
    Tensor ids_cut = Tensor::empty({nb, width}, DType::kI64);
    Tensor mask_cut = Tensor::empty({nb, width}, DType::kI64);
    const std::vector<int64_t> idv = int_values(ids, "ids");
    for (int64_t r = 0; r < nb; ++r) {
      const int64_t b = rows[static_cast<size_t>(r)];
      for (int64_t j = 0; j < width; ++j) {
        const bool real = j < n_real[static_cast<size_t>(b)];
        ids_cut.data<int64_t>()[r * width + j] = real ? idv[static_cast<size_t>(b * len + j)] : 0;
        mask_cut.data<int64_t>()[r * width + j] = real ? 1 : 0;
      }
    }
    const Tensor all = forward(ids_cut, mask_cut, stream);  // [nb, width, dim]
    for (int64_t r = 0; r < nb; ++r) {
      const int64_t b = rows[static_cast<size_t>(r)];
      out[static_cast<size_t>(b)] = all.select(0, r).narrow(0, 0, n_real[static_cast<size_t>(b)]);
    }
    return out;
  }
  // General masks: each row over its full length with its mask; the first n_real rows (as the CPU encoder).
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t nr = n_real[static_cast<size_t>(b)];
    if (nr == 0) continue;
    const Tensor full = forward(ids.narrow(0, b, 1), mask.narrow(0, b, 1), stream);
    out[static_cast<size_t>(b)] = full.select(0, 0).narrow(0, 0, nr);
  }
  return out;
}

void t5_context_bf16(const Tensor& rows, int64_t text_len, bf16* out, cudaStream_t stream) {
  if (rows.ndim() != 2 || rows.dtype() != DType::kF32 || rows.device().is_cpu() || !rows.is_contiguous()) {
    throw Error(ErrorCode::kInvalidArgument,
                "t5_context_bf16: rows must be a contiguous f32 [n, dim] device tensor, got " + rows.str());
  }
  if (rows.dim(0) > text_len) {
    throw Error(ErrorCode::kInvalidArgument, "t5_context_bf16: " + std::to_string(rows.dim(0)) +
                                                 " rows exceed text_len " + std::to_string(text_len));
  }
  t5::rows_to_bf16_padded(rows.dim(0) > 0 ? static_cast<const float*>(rows.raw_data()) : nullptr, rows.dim(0),
                          rows.dim(1), out, text_len, stream);
}

}  // namespace wan22::cuda
