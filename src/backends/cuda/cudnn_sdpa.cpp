// cuDNN fused attention through the backend graph API (see cudnn_sdpa.h).
//
// The operation graph is the one cuDNN's fused flash-attention engines recognise for inference:
//   S = Q K^T (fp32, virtual) -> S * scale -> softmax as max-reduce, sub, exp, sum-reduce, div
//   (plus the log-sum-exp stats, virtual) -> P (bf16, virtual) -> O = P V.
#include "backends/cuda/cudnn_sdpa.h"

#if __has_include(<cudnn.h>)
#define WAN22_HAVE_CUDNN_HEADER 1
#include <cudnn.h>

#include "backends/cuda/cudnn_library.h"
#endif

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "core/status.h"

namespace wan22::cuda {

#ifdef WAN22_HAVE_CUDNN_HEADER
namespace {

struct Api {
  void* lib = nullptr;
  std::string path, error;
  decltype(&cudnnGetVersion) GetVersion = nullptr;
  decltype(&cudnnGetErrorString) GetErrorString = nullptr;
  decltype(&cudnnGetLastErrorString) GetLastErrorString = nullptr;
  decltype(&cudnnCreate) Create = nullptr;
  decltype(&cudnnDestroy) Destroy = nullptr;
  decltype(&cudnnSetStream) SetStream = nullptr;
  decltype(&cudnnBackendCreateDescriptor) CreateDescriptor = nullptr;
  decltype(&cudnnBackendDestroyDescriptor) DestroyDescriptor = nullptr;
  decltype(&cudnnBackendSetAttribute) SetAttribute = nullptr;
  decltype(&cudnnBackendGetAttribute) GetAttribute = nullptr;
  decltype(&cudnnBackendFinalize) Finalize = nullptr;
  decltype(&cudnnBackendExecute) Execute = nullptr;
};

const Api& api() {
  static Api a = [] {
    Api r;
    const CudnnLibrary& lib = cudnn_library();
    r.path = lib.path;
    if (!lib.handle) {
      r.error = lib.error;
      return r;
    }
    r.lib = lib.handle;
    bool ok = cudnn_symbol(r, r.GetVersion, "cudnnGetVersion") &&
              cudnn_symbol(r, r.GetErrorString, "cudnnGetErrorString") &&
              cudnn_symbol(r, r.GetLastErrorString, "cudnnGetLastErrorString") &&
              cudnn_symbol(r, r.Create, "cudnnCreate") &&
              cudnn_symbol(r, r.Destroy, "cudnnDestroy") &&
              cudnn_symbol(r, r.SetStream, "cudnnSetStream") &&
              cudnn_symbol(r, r.CreateDescriptor, "cudnnBackendCreateDescriptor") &&
              cudnn_symbol(r, r.DestroyDescriptor, "cudnnBackendDestroyDescriptor") &&
              cudnn_symbol(r, r.SetAttribute, "cudnnBackendSetAttribute") &&
              cudnn_symbol(r, r.GetAttribute, "cudnnBackendGetAttribute") &&
              cudnn_symbol(r, r.Finalize, "cudnnBackendFinalize") &&
              cudnn_symbol(r, r.Execute, "cudnnBackendExecute");
    if (!ok) r.lib = nullptr;  // the handle stays open: it is shared
    return r;
  }();
  return a;
}

[[noreturn]] void fail(cudnnStatus_t s, const char* expr, int line) {
  const Api& a = api();
  char last[512] = {0};
  if (a.GetLastErrorString) a.GetLastErrorString(last, sizeof(last));
  throw Error(ErrorCode::kInternal, std::string("cuDNN error ") + (a.GetErrorString ? a.GetErrorString(s) : "?") +
                                        " in " + expr + " at " __FILE__ ":" + std::to_string(line) +
                                        (last[0] ? std::string(": ") + last : std::string()));
}

#define CUDNN_CHECK(expr)                                \
  do {                                                   \
    cudnnStatus_t s_ = (expr);                           \
    if (s_ != CUDNN_STATUS_SUCCESS) fail(s_, #expr, __LINE__); \
  } while (0)

// Owning backend descriptor.
class Desc {
 public:
  explicit Desc(cudnnBackendDescriptorType_t t) { CUDNN_CHECK(api().CreateDescriptor(t, &d_)); }
  ~Desc() {
    if (d_) api().DestroyDescriptor(d_);
  }
  Desc(Desc&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  Desc& operator=(Desc&&) = delete;
  Desc(const Desc&) = delete;
  cudnnBackendDescriptor_t get() const { return d_; }
  template <class T>
  Desc& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t n, const T* v) {
    CUDNN_CHECK(api().SetAttribute(d_, name, type, n, v));
    return *this;
  }
  Desc& set_desc(cudnnBackendAttributeName_t name, const Desc& other) {
    cudnnBackendDescriptor_t o = other.get();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &o);
  }
  Desc& finalize() {
    CUDNN_CHECK(api().Finalize(d_));
    return *this;
  }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

enum Uid : int64_t { kQ = 1, kK = 2, kV = 3, kO = 4, kScale = 5, kVirtual = 100 };

Desc tensor(int64_t uid, cudnnDataType_t dt, const int64_t (&dims)[4], const int64_t (&strides)[4], bool is_virtual,
            bool by_value = false) {
  Desc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const int64_t align = 16;
  const bool v = is_virtual;
  t.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims)
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides)
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align)
      .set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v);
  if (by_value) {
    const bool bv = true;
    t.set(CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &bv);
  }
  t.finalize();
  return t;
}

Desc pointwise_op(cudnnPointwiseMode_t mode, const Desc& x, const Desc* b, const Desc& y,
                  std::vector<Desc>& keep) {
  Desc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode)
      .set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec)
      .finalize();
  Desc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw).set_desc(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
  if (b) op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y).finalize();
  keep.push_back(std::move(pw));
  return op;
}

Desc reduction_op(cudnnReduceTensorOp_t red, const Desc& x, const Desc& y, std::vector<Desc>& keep) {
  Desc rd(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
  const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  rd.set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &red)
      .set(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec)
      .finalize();
  Desc op(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x)
      .set_desc(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y)
      .set_desc(CUDNN_ATTR_OPERATION_REDUCTION_DESC, rd)
      .finalize();
  keep.push_back(std::move(rd));
  return op;
}

Desc matmul_op(const Desc& a, const Desc& b, const Desc& c, std::vector<Desc>& keep) {
  Desc mm(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
  const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  mm.set(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec).finalize();
  Desc op(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_ADESC, a)
      .set_desc(CUDNN_ATTR_OPERATION_MATMUL_BDESC, b)
      .set_desc(CUDNN_ATTR_OPERATION_MATMUL_CDESC, c)
      .set_desc(CUDNN_ATTR_OPERATION_MATMUL_DESC, mm)
      .finalize();
  keep.push_back(std::move(mm));
  return op;
}

std::string key_of(const FlashParams& p) {
  std::string k;
  for (int64_t v : {p.batch, p.heads, p.len_q, p.len_k, static_cast<int64_t>(p.head_dim), p.lq.batch, p.lq.token,
                    p.lq.head, p.lk.batch, p.lk.token, p.lk.head, p.lv.batch, p.lv.token, p.lv.head, p.lo.batch,
                    p.lo.token, p.lo.head}) {
    k += std::to_string(v) + ",";
  }
  return k;
}

}  // namespace

struct CudnnSdpa::Plan {
  std::vector<Desc> keep;  // every descriptor the plan references
  cudnnBackendDescriptor_t plan = nullptr;
  int64_t workspace = 0;
  std::string engine_note;
};

CudnnSdpa::CudnnSdpa() {
  const Api& a = api();
  if (!a.lib) {
    reason_ = a.error;
    return;
  }
  library_ = a.path;
  version_ = static_cast<int>(a.GetVersion());
  if (version_ < 8900) {
    reason_ = "cuDNN " + std::to_string(version_) + " is older than 8.9 (no fused flash attention)";
    return;
  }
  cudnnHandle_t h = nullptr;
  cudnnStatus_t s = a.Create(&h);
  if (s != CUDNN_STATUS_SUCCESS) {
    reason_ = std::string("cudnnCreate failed: ") + a.GetErrorString(s);
    return;
  }
  handle_ = h;
}

CudnnSdpa::~CudnnSdpa() {
  plans_.clear();
  if (workspace_) cudaFree(workspace_);
  if (handle_) api().Destroy(static_cast<cudnnHandle_t>(handle_));
}

CudnnSdpa::Plan& CudnnSdpa::plan_for(const FlashParams& p, cudaStream_t stream) {
  const std::string key = key_of(p);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  auto plan = std::make_unique<Plan>();
  auto& keep = plan->keep;
  const cudnnDataType_t bf = CUDNN_DATA_BFLOAT16, f32 = CUDNN_DATA_FLOAT;
  const int64_t B = p.batch, H = p.heads, Lq = p.len_q, Lk = p.len_k, D = p.head_dim;
  const int64_t q_dims[4] = {B, H, Lq, D}, q_str[4] = {p.lq.batch, p.lq.head, p.lq.token, 1};
  const int64_t kt_dims[4] = {B, H, D, Lk}, kt_str[4] = {p.lk.batch, p.lk.head, 1, p.lk.token};
  const int64_t v_dims[4] = {B, H, Lk, D}, v_str[4] = {p.lv.batch, p.lv.head, p.lv.token, 1};
  const int64_t o_dims[4] = {B, H, Lq, D}, o_str[4] = {p.lo.batch, p.lo.head, p.lo.token, 1};
  const int64_t s_dims[4] = {B, H, Lq, Lk}, s_str[4] = {H * Lq * Lk, Lq * Lk, Lk, 1};
  const int64_t r_dims[4] = {B, H, Lq, 1}, r_str[4] = {H * Lq, Lq, 1, 1};
  const int64_t one[4] = {1, 1, 1, 1};

  int64_t vid = kVirtual;
  keep.push_back(tensor(kQ, bf, q_dims, q_str, false));
  const size_t iQ = keep.size() - 1;
  keep.push_back(tensor(kK, bf, kt_dims, kt_str, false));
  const size_t iK = keep.size() - 1;
  keep.push_back(tensor(kV, bf, v_dims, v_str, false));
  const size_t iV = keep.size() - 1;
  keep.push_back(tensor(kO, bf, o_dims, o_str, false));
  const size_t iO = keep.size() - 1;
  keep.push_back(tensor(kScale, f32, one, one, false, true));
  const size_t iScale = keep.size() - 1;
  auto virt = [&](const int64_t(&d)[4], const int64_t(&s)[4], cudnnDataType_t dt = CUDNN_DATA_FLOAT) {
    keep.push_back(tensor(vid++, dt, d, s, true));
    return keep.size() - 1;
  };
  const size_t iS = virt(s_dims, s_str);
  const size_t iSs = virt(s_dims, s_str);
  const size_t iMax = virt(r_dims, r_str);
  const size_t iSub = virt(s_dims, s_str);
  const size_t iExp = virt(s_dims, s_str);
  const size_t iSum = virt(r_dims, r_str);
  const size_t iLog = virt(r_dims, r_str);
  const size_t iStats = virt(r_dims, r_str);
  const size_t iP = virt(s_dims, s_str, bf);

  std::vector<Desc> ops;
  // keep[] may reallocate while ops are built: take references only inside each call
  ops.push_back(matmul_op(keep[iQ], keep[iK], keep[iS], keep));
  ops.push_back(pointwise_op(CUDNN_POINTWISE_MUL, keep[iS], &keep[iScale], keep[iSs], keep));
  ops.push_back(reduction_op(CUDNN_REDUCE_TENSOR_MAX, keep[iSs], keep[iMax], keep));
  ops.push_back(pointwise_op(CUDNN_POINTWISE_SUB, keep[iSs], &keep[iMax], keep[iSub], keep));
  ops.push_back(pointwise_op(CUDNN_POINTWISE_EXP, keep[iSub], nullptr, keep[iExp], keep));
  ops.push_back(reduction_op(CUDNN_REDUCE_TENSOR_ADD, keep[iExp], keep[iSum], keep));
  ops.push_back(pointwise_op(CUDNN_POINTWISE_LOG, keep[iSum], nullptr, keep[iLog], keep));
  ops.push_back(pointwise_op(CUDNN_POINTWISE_ADD, keep[iMax], &keep[iLog], keep[iStats], keep));
  ops.push_back(pointwise_op(CUDNN_POINTWISE_DIV, keep[iExp], &keep[iSum], keep[iP], keep));
  ops.push_back(matmul_op(keep[iP], keep[iV], keep[iO], keep));

  std::vector<cudnnBackendDescriptor_t> raw_ops;
  for (auto& o : ops) raw_ops.push_back(o.get());
  cudnnHandle_t h = static_cast<cudnnHandle_t>(handle_);
  Desc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(raw_ops.size()),
            raw_ops.data())
      .set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h)
      .finalize();

  std::string tried;
  struct Candidate {
    Desc plan;
    int64_t workspace;
    std::string note;
  };
  std::vector<Candidate> cands;
  std::vector<Desc> cfgs;  // engine configs referenced by the candidate plans
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    if (!cands.empty()) break;
    Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    cudnnBackendDescriptor_t g = graph.get();
    heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g)
        .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    if (api().Finalize(heur.get()) != CUDNN_STATUS_SUCCESS) {
      char last[512] = {0};
      api().GetLastErrorString(last, sizeof(last));
      tried += std::string(" heuristics mode ") + std::to_string(mode) + " failed: " + last + ";";
      continue;
    }
    int64_t count = 0;
    CUDNN_CHECK(api().GetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                                   nullptr));
    std::vector<cudnnBackendDescriptor_t> raw_cfgs;
    for (int64_t i = 0; i < count; ++i) {
      cfgs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
      raw_cfgs.push_back(cfgs.back().get());
    }
    int64_t got = 0;
    if (count > 0) {
      CUDNN_CHECK(api().GetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                     &got, raw_cfgs.data()));
    }
    for (int64_t i = 0; i < got && cands.size() < 6; ++i) {
      Desc ep(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      cudnnBackendDescriptor_t c = raw_cfgs[static_cast<size_t>(i)];
      ep.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h)
          .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c);
      const cudnnStatus_t s = api().Finalize(ep.get());
      if (s != CUDNN_STATUS_SUCCESS) {
        tried += " cfg " + std::to_string(i) + ": " + api().GetErrorString(s) + ";";
        continue;
      }
      int64_t ws = 0;
      CUDNN_CHECK(api().GetAttribute(ep.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, nullptr,
                                     &ws));
      cands.push_back(Candidate{std::move(ep), ws,
                                "heuristics mode " + std::to_string(mode) + " config " + std::to_string(i) + " of " +
                                    std::to_string(got)});
    }
    if (cands.empty()) tried += " mode " + std::to_string(mode) + ": " + std::to_string(got) + " configs, none finalised;";
  }
  if (cands.empty()) {
    throw Error(ErrorCode::kUnsupported, "cuDNN SDPA: no engine for B=" + std::to_string(B) + " H=" +
                                             std::to_string(H) + " Lq=" + std::to_string(Lq) + " Lk=" +
                                             std::to_string(Lk) + " D=" + std::to_string(D) + ":" + tried);
  }
  size_t best = 0;
  if (autotune_ && cands.size() > 1) {
    const float scale = p.scale > 0.0f ? p.scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
    CUDNN_CHECK(api().SetStream(h, stream));
    cudaEvent_t e0, e1;
    WAN22_CUDA_CHECK(cudaEventCreate(&e0));
    WAN22_CUDA_CHECK(cudaEventCreate(&e1));
    float best_ms = 0.0f;
    bool have = false;
    for (size_t i = 0; i < cands.size(); ++i) {
      ensure_workspace(static_cast<size_t>(cands[i].workspace));
      try {
        execute(cands[i].plan.get(), p, scale, workspace_);  // warm-up (and run-time compilation)
        WAN22_CUDA_CHECK(cudaEventRecord(e0, stream));
        for (int r = 0; r < 3; ++r) execute(cands[i].plan.get(), p, scale, workspace_);
        WAN22_CUDA_CHECK(cudaEventRecord(e1, stream));
        WAN22_CUDA_CHECK(cudaEventSynchronize(e1));
      } catch (const Error&) {
        continue;
      }
      float ms = 0.0f;
      WAN22_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
      cands[i].note += " (" + std::to_string(ms / 3.0f) + " ms)";
      if (!have || ms < best_ms) {
        best_ms = ms;
        best = i;
        have = true;
      }
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
  }
  plan->plan = cands[best].plan.get();
  plan->workspace = cands[best].workspace;
  plan->engine_note = cands[best].note + ", best of " + std::to_string(cands.size());
  for (auto& c : cands) keep.push_back(std::move(c.plan));
  for (auto& o : ops) keep.push_back(std::move(o));
  keep.push_back(std::move(graph));
  for (auto& c : cfgs) keep.push_back(std::move(c));
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void CudnnSdpa::ensure_workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return;
  if (workspace_) WAN22_CUDA_CHECK(cudaFree(workspace_));
  workspace_ = nullptr;
  workspace_bytes_ = 0;
  WAN22_CUDA_CHECK(cudaMalloc(&workspace_, bytes));
  workspace_bytes_ = bytes;
}

void CudnnSdpa::execute(void* plan, const FlashParams& p, float scale, void* workspace) {
  const int64_t uids[5] = {kQ, kK, kV, kO, kScale};
  void* ptrs[5] = {const_cast<bf16*>(p.q), const_cast<bf16*>(p.k), const_cast<bf16*>(p.v), p.o, &scale};
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 5, uids)
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 5, ptrs)
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace)
      .finalize();
  CUDNN_CHECK(api().Execute(static_cast<cudnnHandle_t>(handle_), static_cast<cudnnBackendDescriptor_t>(plan),
                            pack.get()));
}

void CudnnSdpa::run(const FlashParams& p, cudaStream_t stream) {
  if (!available()) throw Error(ErrorCode::kUnsupported, "cuDNN SDPA unavailable: " + reason_);
  if (!p.q || !p.k || !p.v || !p.o || p.len_q <= 0 || p.len_k <= 0 || p.heads <= 0 || p.batch <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "cuDNN SDPA: bad parameters");
  }
  Plan& plan = plan_for(p, stream);
  ensure_workspace(static_cast<size_t>(plan.workspace));
  CUDNN_CHECK(api().SetStream(static_cast<cudnnHandle_t>(handle_), stream));
  const float scale = p.scale > 0.0f ? p.scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  execute(plan.plan, p, scale, workspace_);
  last_note_ = plan.engine_note;
}

#else  // built without cudnn.h: the wrapper exists and reports why it is unavailable

struct CudnnSdpa::Plan {};
CudnnSdpa::CudnnSdpa() { reason_ = "built without cudnn.h"; }
CudnnSdpa::~CudnnSdpa() = default;
CudnnSdpa::Plan& CudnnSdpa::plan_for(const FlashParams&, cudaStream_t) {
  throw Error(ErrorCode::kUnsupported, reason_);
}
void CudnnSdpa::execute(void*, const FlashParams&, float, void*) { throw Error(ErrorCode::kUnsupported, reason_); }
void CudnnSdpa::ensure_workspace(size_t) {}
void CudnnSdpa::run(const FlashParams&, cudaStream_t) {
  throw Error(ErrorCode::kUnsupported, "cuDNN SDPA unavailable: " + reason_);
}
#endif

}  // namespace wan22::cuda
