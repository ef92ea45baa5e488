// Flash-attention forward (FA2 scheme) with mma.sync m16n8k16 bf16 tensor-core instructions.
//
// One CTA computes BM = 16 * MT * NWARPS query rows of one (batch, head); each warp owns MT m16
// row tiles (K/V fragments loaded once from shared memory serve all MT tiles). K/V tiles of BN
// keys are double-buffered in shared memory through cp.async (zero-filled past the sequence end).
// Shared-memory rows of D bf16 are XOR-swizzled in 16-byte chunks (chunk ^ (row & 7); for D = 32,
// whose rows have only 4 chunks, chunk ^ (row & 3)) so that ldmatrix and cp.async are (nearly)
// bank-conflict free. Softmax runs in the log2 domain with exp2.
#include <cmath>
#include <string>

#include "backends/cuda/flash_attention.h"
#include "backends/cuda/kernel_util.cuh"

namespace wan22::cuda {

using detail::require;

namespace {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;  // 0: zero-fill, nothing read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2,
                                                  uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}

// d += a * b (m16n8k16, bf16 inputs, fp32 accumulators)
__device__ __forceinline__ void mma_bf16(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

struct KernelArgs {
  const bf16* q;
  const bf16* k;
  const bf16* v;
  bf16* o;
  AttnLayout lq, lk, lv, lo;
  int64_t len_q, len_k;
  float scale_log2;
};

// XOR mask of the smem swizzle: row & 7 needs 8 chunks per row; D = 32 has 4.
template <int D>
__host__ __device__ constexpr int swizzle_mask() {
  return D / 8 >= 8 ? 7 : D / 8 - 1;
}

// Copies `rows` rows (from row0 of a [len, D] view with token stride ld) into swizzled smem.
template <int D, int ROWS, int NT>
__device__ __forceinline__ void load_tile(uint32_t smem, const bf16* base, int64_t ld, int64_t row0, int64_t len,
                                          int tid) {
  constexpr int kChunks = D / 8;
  constexpr int kPerThread = ROWS * kChunks / NT;
  static_assert(ROWS * kChunks % NT == 0, "tile not divisible among threads");
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int id = tid + i * NT;
    const int r = id / kChunks, c = id % kChunks;
    const int64_t row = row0 + r;
    const bool valid = row < len;
    const bf16* src = valid ? base + row * ld + c * 8 : base;
    const uint32_t dst = smem + static_cast<uint32_t>((r * D + ((c ^ (r & swizzle_mask<D>())) * 8)) * 2);
    cp_async_16(dst, src, valid);
  }
}

template <int D, int MT, int NWARPS, int BN>
__global__ void __launch_bounds__(NWARPS * 32, 1) flash_fwd_kernel(KernelArgs a) {
  constexpr int BM = 16 * MT * NWARPS;
  constexpr int NT = NWARPS * 32;
  constexpr int KSTEPS = D / 16;   // k-steps of S = Q K^T
  constexpr int NTILES_S = BN / 8;  // n8 tiles of S
  constexpr int NTILES_O = D / 8;   // n8 tiles of O
  constexpr int PSTEPS = BN / 16;   // k-steps of O += P V
  extern __shared__ __align__(128) unsigned char smem_raw[];
  bf16* sQ = reinterpret_cast<bf16*>(smem_raw);
  bf16* sK = sQ + BM * D;          // [2][BN][D]
  bf16* sV = sK + 2 * BN * D;      // [2][BN][D]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int64_t h = blockIdx.y, b = blockIdx.z;
  const bf16* qb = a.q + b * a.lq.batch + h * a.lq.head;
  const bf16* kb = a.k + b * a.lk.batch + h * a.lk.head;
  const bf16* vb = a.v + b * a.lv.batch + h * a.lv.head;
  bf16* ob = a.o + b * a.lo.batch + h * a.lo.head;

  const uint32_t sQa = smem_u32(sQ), sKa = smem_u32(sK), sVa = smem_u32(sV);
  constexpr uint32_t kTileBytes = BN * D * 2;

  load_tile<D, BM, NT>(sQa, qb, a.lq.token, m0, a.len_q, tid);
  load_tile<D, BN, NT>(sKa, kb, a.lk.token, 0, a.len_k, tid);
  load_tile<D, BN, NT>(sVa, vb, a.lv.token, 0, a.len_k, tid);
  cp_async_commit();

  float acc_o[MT][NTILES_O][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int n = 0; n < NTILES_O; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_o[mt][n][e] = 0.0f;
  float row_max[MT][2], row_sum[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    row_max[mt][0] = row_max[mt][1] = -INFINITY;
    row_sum[mt][0] = row_sum[mt][1] = 0.0f;
  }

  const int swz = lane & swizzle_mask<D>();  // == row & mask for every ldmatrix row address below
  // ldmatrix lane roles
  const int q_row_in_tile = (lane & 7) + ((lane >> 3) & 1) * 8;  // A operand: matrices (r lo, k lo), (r hi, k lo), ...
  const int q_chunk_hi = lane >> 4;
  const int k_row_in_pair = (lane >> 4) * 8 + (lane & 7);          // B (non-trans): (n lo, d lo), (n lo, d hi), (n hi, ..)
  const int k_chunk_hi = (lane >> 3) & 1;
  const int v_row_in_step = ((lane >> 3) & 1) * 8 + (lane & 7);    // B (trans): (k lo, n), (k hi, n), (k lo, n+1), ...
  const int v_chunk_hi = lane >> 4;

  const int ntiles = static_cast<int>((a.len_k + BN - 1) / BN);
  for (int t = 0; t < ntiles; ++t) {
    cp_async_wait_all();
    __syncthreads();  // tile t landed for every thread; every warp is done with tile t-1
    if (t + 1 < ntiles) {
      const uint32_t stage = static_cast<uint32_t>((t + 1) & 1) * kTileBytes;
      load_tile<D, BN, NT>(sKa + stage, kb, a.lk.token, static_cast<int64_t>(t + 1) * BN, a.len_k, tid);
      load_tile<D, BN, NT>(sVa + stage, vb, a.lv.token, static_cast<int64_t>(t + 1) * BN, a.len_k, tid);
      cp_async_commit();
    }
    const uint32_t kstage = sKa + static_cast<uint32_t>(t & 1) * kTileBytes;
    const uint32_t vstage = sVa + static_cast<uint32_t>(t & 1) * kTileBytes;

    // ---- S = Q K^T ----
    float acc_s[MT][NTILES_S][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int j = 0; j < NTILES_S; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc_s[mt][j][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk) {
      uint32_t qf[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        const int row = (warp * MT + mt) * 16 + q_row_in_tile;
        const int chunk = (kk * 2 + q_chunk_hi) ^ swz;
        ldmatrix_x4(sQa + static_cast<uint32_t>((row * D + chunk * 8) * 2), qf[mt][0], qf[mt][1], qf[mt][2],
                    qf[mt][3]);
      }
#pragma unroll
      for (int jp = 0; jp < NTILES_S / 2; ++jp) {
        uint32_t b0, b1, b2, b3;
        const int row = jp * 16 + k_row_in_pair;
        const int chunk = (kk * 2 + k_chunk_hi) ^ swz;
        ldmatrix_x4(kstage + static_cast<uint32_t>((row * D + chunk * 8) * 2), b0, b1, b2, b3);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_bf16(acc_s[mt][2 * jp], qf[mt], b0, b1);
          mma_bf16(acc_s[mt][2 * jp + 1], qf[mt], b2, b3);
        }
      }
    }

    // ---- mask keys past the end (last tile only) ----
    const int64_t key0 = static_cast<int64_t>(t) * BN;
    if (key0 + BN > a.len_k) {
#pragma unroll
      for (int j = 0; j < NTILES_S; ++j) {
        const int64_t col = key0 + j * 8 + (lane & 3) * 2;
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          if (col >= a.len_k) acc_s[mt][j][0] = acc_s[mt][j][2] = -INFINITY;
          if (col + 1 >= a.len_k) acc_s[mt][j][1] = acc_s[mt][j][3] = -INFINITY;
        }
      }
    }

    // ---- online softmax (rows g and g+8 of each m tile; a quad shares a row) ----
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        float mx = -INFINITY;
#pragma unroll
        for (int j = 0; j < NTILES_S; ++j) mx = fmaxf(mx, fmaxf(acc_s[mt][j][2 * hr], acc_s[mt][j][2 * hr + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(row_max[mt][hr], mx * a.scale_log2);
        const float corr = fast_exp2(row_max[mt][hr] - m_new);
        row_max[mt][hr] = m_new;
        float sum = 0.0f;
#pragma unroll
        for (int j = 0; j < NTILES_S; ++j) {
          const float p0 = fast_exp2(fmaf(acc_s[mt][j][2 * hr], a.scale_log2, -m_new));
          const float p1 = fast_exp2(fmaf(acc_s[mt][j][2 * hr + 1], a.scale_log2, -m_new));
          acc_s[mt][j][2 * hr] = p0;
          acc_s[mt][j][2 * hr + 1] = p1;
          sum += p0 + p1;
        }
        row_sum[mt][hr] = row_sum[mt][hr] * corr + sum;
#pragma unroll
        for (int n = 0; n < NTILES_O; ++n) {
          acc_o[mt][n][2 * hr] *= corr;
          acc_o[mt][n][2 * hr + 1] *= corr;
        }
      }
    }

    // ---- O += P V (P packed to bf16 per k-step: k-step s covers S n-tiles 2s, 2s+1) ----
#pragma unroll
    for (int s = 0; s < PSTEPS; ++s) {
      uint32_t pf[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        pf[mt][0] = pack_bf16(acc_s[mt][2 * s][0], acc_s[mt][2 * s][1]);
        pf[mt][1] = pack_bf16(acc_s[mt][2 * s][2], acc_s[mt][2 * s][3]);
        pf[mt][2] = pack_bf16(acc_s[mt][2 * s + 1][0], acc_s[mt][2 * s + 1][1]);
        pf[mt][3] = pack_bf16(acc_s[mt][2 * s + 1][2], acc_s[mt][2 * s + 1][3]);
      }
#pragma unroll
      for (int np = 0; np < NTILES_O / 2; ++np) {
        uint32_t b0, b1, b2, b3;
        const int row = s * 16 + v_row_in_step;
        const int chunk = (np * 2 + v_chunk_hi) ^ swz;
        ldmatrix_x4_trans(vstage + static_cast<uint32_t>((row * D + chunk * 8) * 2), b0, b1, b2, b3);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_bf16(acc_o[mt][2 * np], pf[mt], b0, b1);
          mma_bf16(acc_o[mt][2 * np + 1], pf[mt], b2, b3);
        }
      }
    }
  }

  // ---- normalise and store ----
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float l = row_sum[mt][hr];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      const int64_t row = m0 + (warp * MT + mt) * 16 + (lane >> 2) + hr * 8;
      if (row < a.len_q) {
        bf16* orow = ob + row * a.lo.token + (lane & 3) * 2;
#pragma unroll
        for (int n = 0; n < NTILES_O; ++n) {
          *reinterpret_cast<__nv_bfloat162*>(orow + n * 8) =
              __floats2bfloat162_rn(acc_o[mt][n][2 * hr] * inv, acc_o[mt][n][2 * hr + 1] * inv);
        }
      }
    }
  }
}

template <int D, int MT, int NWARPS, int BN>
void launch(const FlashParams& p, cudaStream_t stream) {
  constexpr int BM = 16 * MT * NWARPS;
  constexpr size_t smem = static_cast<size_t>(BM + 4 * BN) * D * 2;
  auto kernel = flash_fwd_kernel<D, MT, NWARPS, BN>;
  static bool attr_set = false;  // per instantiation; setting it twice is harmless
  if (!attr_set) {
    WAN22_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    attr_set = true;
  }
  KernelArgs a{p.q, p.k, p.v, p.o, p.lq, p.lk, p.lv, p.lo, p.len_q, p.len_k, 0.0f};
  const float scale = p.scale > 0.0f ? p.scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  a.scale_log2 = scale * 1.4426950408889634f;
  dim3 grid(static_cast<unsigned>((p.len_q + BM - 1) / BM), static_cast<unsigned>(p.heads),
            static_cast<unsigned>(p.batch));
  kernel<<<grid, NWARPS * 32, smem, stream>>>(a);
  WAN22_CUDA_CHECK_LAUNCH();
}

template <int D>
void dispatch(const FlashParams& p, cudaStream_t stream, FlashVariant v) {
  switch (v) {
    case FlashVariant::kW4M2:
      launch<D, 2, 4, 64>(p, stream);
      break;
    case FlashVariant::kW8M1:
      launch<D, 1, 8, 64>(p, stream);
      break;
    case FlashVariant::kAuto:
    case FlashVariant::kW8M2:
      launch<D, 2, 8, 64>(p, stream);
      break;
  }
}

bool layout_ok(const AttnLayout& l) {
  return l.batch % 8 == 0 && l.token % 8 == 0 && l.head % 8 == 0 && l.batch >= 0 && l.token > 0 && l.head >= 0;
}

}  // namespace

void flash_attention_fwd(const FlashParams& p, cudaStream_t stream, FlashVariant variant) {
  constexpr const char* kOp = "cuda::flash_attention_fwd";
  require(p.q && p.k && p.v && p.o, kOp, "null tensor pointer");
  require(p.head_dim == 32 || p.head_dim == 64 || p.head_dim == 128, kOp,
          "head_dim must be 32, 64 or 128, got " + std::to_string(p.head_dim));
  require(p.batch > 0 && p.heads > 0 && p.len_q >= 0 && p.len_k > 0, kOp,
          "bad sizes B=" + std::to_string(p.batch) + " H=" + std::to_string(p.heads) + " Lq=" +
              std::to_string(p.len_q) + " Lk=" + std::to_string(p.len_k));
  require(p.batch <= 65535 && p.heads <= 65535, kOp, "batch and heads must be <= 65535");
  require(layout_ok(p.lq) && layout_ok(p.lk) && layout_ok(p.lv) && layout_ok(p.lo), kOp,
          "strides must be positive multiples of 8 elements (16-byte rows)");
  require(detail::aligned16(p.q) && detail::aligned16(p.k) && detail::aligned16(p.v) && detail::aligned16(p.o), kOp,
          "pointers must be 16-byte aligned");
  if (p.len_q == 0) return;
  if (p.head_dim == 128) {
    dispatch<128>(p, stream, variant);
  } else if (p.head_dim == 64) {
    dispatch<64>(p, stream, variant);
  } else {
    dispatch<32>(p, stream, variant);
  }
}

}  // namespace wan22::cuda
