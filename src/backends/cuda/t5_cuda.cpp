// The UMT5 encoder on the GPU (see t5_cuda.h).
#include "backends/cuda/t5_cuda.h"

#include <algorithm>
#include <cmath>
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

Device gpu() { return Device::cuda(0); }
bf16* bp(const Tensor& t) { return static_cast<bf16*>(t.raw_data()); }
float* fp(const Tensor& t) { return static_cast<float*>(t.raw_data()); }
Tensor dev_bf16(const Shape& s) { return Tensor::empty(s, DType::kBF16, gpu()); }
Tensor dev_f32(const Shape& s) { return Tensor::empty(s, DType::kF32, gpu()); }

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

void rand_bf16(Tensor& t, const Shape& s, uint64_t seed, double fan_in, cudaStream_t st) {
  t = dev_bf16(s);
  const float a = static_cast<float>(std::sqrt(3.0 / fan_in));
  fill_uniform_bf16(bp(t), t.numel(), seed, -a, a, st);
}
void rand_f32(Tensor& t, const Shape& s, uint64_t seed, float lo, float hi, cudaStream_t st) {
  t = dev_f32(s);
  fill_uniform_f32(fp(t), t.numel(), seed, lo, hi, st);
}

}  // namespace

// ---------------- construction ----------------

T5Cuda::BlasHandle::BlasHandle() { WAN22_T5_CUBLAS_CHECK(cublasCreate(&h)); }
T5Cuda::BlasHandle::~BlasHandle() {
  if (h) cublasDestroy(h);
}

T5Cuda::~T5Cuda() = default;

T5Cuda::T5Cuda(const io::WeightStore& ws, const T5Config& cfg, cudaStream_t stream, T5CudaOptions opt)
    : cfg_(cfg), opt_(opt) {
  cfg_.validate();
  ensure_device();
  const int64_t d = cfg_.dim, da = cfg_.dim_attn, df = cfg_.dim_ffn, nb = cfg_.num_buckets, H = cfg_.num_heads;
  WAN22_CUDA_CHECK(cudaStreamSynchronize(stream));  // uploads below use the synchronous copy

  const Tensor emb = host_weight(ws, "token_embedding.weight", {cfg_.vocab, d});
  if (opt_.embedding_on_host) {
    embedding_ = emb.to(DType::kBF16).contiguous();
  } else {
    embedding_ = dev_bf16({cfg_.vocab, d});
    upload(emb, DType::kBF16, embedding_, 0);
  }
  const int64_t n_tables = cfg_.shared_pos ? 1 : cfg_.num_layers;
  pos_tables_ = dev_f32({n_tables, nb, H});
  if (cfg_.shared_pos) {
    upload(host_weight(ws, "pos_embedding.embedding.weight", {nb, H}), DType::kF32, pos_tables_, 0);
  }
  blocks_.resize(static_cast<size_t>(cfg_.num_layers));
  for (int64_t i = 0; i < cfg_.num_layers; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    Block& b = blocks_[static_cast<size_t>(i)];
    b.norm1 = dev_f32({d});
    upload(host_weight(ws, p + "norm1.weight", {d}), DType::kF32, b.norm1, 0);
    b.norm2 = dev_f32({d});
    upload(host_weight(ws, p + "norm2.weight", {d}), DType::kF32, b.norm2, 0);
    b.qkv = dev_bf16({3 * da, d});
    upload(host_weight(ws, p + "attn.q.weight", {da, d}), DType::kBF16, b.qkv, 0);
    upload(host_weight(ws, p + "attn.k.weight", {da, d}), DType::kBF16, b.qkv, da * d);
    upload(host_weight(ws, p + "attn.v.weight", {da, d}), DType::kBF16, b.qkv, 2 * da * d);
    b.o = dev_bf16({d, da});
    upload(host_weight(ws, p + "attn.o.weight", {d, da}), DType::kBF16, b.o, 0);
    if (!cfg_.shared_pos) {
      upload(host_weight(ws, p + "pos_embedding.embedding.weight", {nb, H}), DType::kF32, pos_tables_, i * nb * H);
    }
    b.ffn_in = dev_bf16({2 * df, d});
    upload(host_weight(ws, p + "ffn.gate.0.weight", {df, d}), DType::kBF16, b.ffn_in, 0);
    upload(host_weight(ws, p + "ffn.fc1.weight", {df, d}), DType::kBF16, b.ffn_in, df * d);
    b.fc2 = dev_bf16({d, df});
    upload(host_weight(ws, p + "ffn.fc2.weight", {d, df}), DType::kBF16, b.fc2, 0);
  }
  final_norm_ = dev_f32({d});
  upload(host_weight(ws, "norm.weight", {d}), DType::kF32, final_norm_, 0);
}

T5Cuda::T5Cuda(const T5Config& cfg, uint64_t seed, cudaStream_t st) : cfg_(cfg) {
  cfg_.validate();
  ensure_device();
  const int64_t d = cfg_.dim, da = cfg_.dim_attn, df = cfg_.dim_ffn, nb = cfg_.num_buckets, H = cfg_.num_heads;
  uint64_t s = seed * 1000003ull;
  auto next = [&]() { return ++s; };
  embedding_ = dev_bf16({cfg_.vocab, d});
  fill_uniform_bf16(bp(embedding_), embedding_.numel(), next(), -1.0f, 1.0f, st);
  rand_f32(pos_tables_, {cfg_.shared_pos ? 1 : cfg_.num_layers, nb, H}, next(), -0.5f, 0.5f, st);
  blocks_.resize(static_cast<size_t>(cfg_.num_layers));
  for (Block& b : blocks_) {
    rand_f32(b.norm1, {d}, next(), 0.9f, 1.1f, st);
    rand_f32(b.norm2, {d}, next(), 0.9f, 1.1f, st);
    rand_bf16(b.qkv, {3 * da, d}, next(), static_cast<double>(d), st);
    rand_bf16(b.o, {d, da}, next(), static_cast<double>(da), st);
    rand_bf16(b.ffn_in, {2 * df, d}, next(), static_cast<double>(d), st);
    rand_bf16(b.fc2, {d, df}, next(), static_cast<double>(df), st);
  }
  rand_f32(final_norm_, {d}, next(), 0.9f, 1.1f, st);
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

uint64_t T5Cuda::device_weight_bytes() const {
  uint64_t n = pos_tables_.nbytes() + final_norm_.nbytes();
  if (!embedding_.device().is_cpu()) n += embedding_.nbytes();
  for (const Block& b : blocks_) {
    n += b.norm1.nbytes() + b.norm2.nbytes() + b.qkv.nbytes() + b.o.nbytes() + b.ffn_in.nbytes() + b.fc2.nbytes();
  }
  return n;
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

  Tensor x = dev_f32({N, d});
  embed(ids, x, st);  // synchronises: the keep copy above is done too
  Tensor xn = dev_bf16({N, d});
  Tensor qkv = dev_bf16({N, 3 * da});
  Tensor attn = dev_bf16({N, da});
  Tensor y = dev_bf16({N, d});
  Tensor h = dev_bf16({N, 2 * df});
  Tensor g = dev_bf16({N, df});
  Tensor out = dev_f32({N, d});

  t5::rmsnorm_bf16(fp(x), nullptr, fp(blocks_[0].norm1), bp(xn), N, d, cfg_.eps, st);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& blk = blocks_[i];
    const Tensor table = pos_tables_.select(0, cfg_.shared_pos ? 0 : static_cast<int64_t>(i));
    gemm_.linear_bf16(bp(xn), bp(blk.qkv), nullptr, bp(qkv), N, 3 * da, d, Epilogue::kNone, st);
    attention(qkv, table, keep_p, batch, len, attn, st);
    gemm_.linear_bf16(bp(attn), bp(blk.o), nullptr, bp(y), N, d, da, Epilogue::kNone, st);
    t5::rmsnorm_bf16(fp(x), bp(y), fp(blk.norm2), bp(xn), N, d, cfg_.eps, st);  // x += attn; xn = norm2(x)
    gemm_.linear_bf16(bp(xn), bp(blk.ffn_in), nullptr, bp(h), N, 2 * df, d, Epilogue::kNone, st);
    t5::gated_gelu(bp(h), bp(g), N, df, st);
    gemm_.linear_bf16(bp(g), bp(blk.fc2), nullptr, bp(y), N, d, df, Epilogue::kNone, st);
    if (i + 1 < blocks_.size()) {
      t5::rmsnorm_bf16(fp(x), bp(y), fp(blocks_[i + 1].norm1), bp(xn), N, d, cfg_.eps, st);  // x += ffn; next norm1
    } else {
      t5::rmsnorm_f32(fp(x), bp(y), fp(final_norm_), fp(out), N, d, cfg_.eps, st);  // x += ffn; final norm
    }
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
