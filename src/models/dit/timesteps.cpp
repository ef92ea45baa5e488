#include "models/dit/timesteps.h"

#include <cmath>
#include <unordered_map>

#include "core/status.h"
#include "core/thread_pool.h"

namespace wan22::models::dit {

TimestepRows distinct_timesteps(const Tensor& t, int64_t batch, int64_t tokens, int64_t seq_len) {
  WAN22_CHECK(t.defined(), "DiT forward: timestep tensor is undefined");
  WAN22_CHECK(tokens <= seq_len, "DiT forward: the video has " + std::to_string(tokens) +
                                     " tokens, more than seq_len " + std::to_string(seq_len));
  const std::vector<float> tv = t.to_vector();
  // Normalise to [tb, per] with per == 1 (one value per item) or per == seq_len (per token).
  int64_t tb = 0, per = 0;
  if (t.ndim() == 2) {
    tb = t.dim(0);
    per = t.dim(1);
  } else if (t.ndim() == 1 && (t.dim(0) == batch || t.dim(0) == 1)) {
    tb = t.dim(0);
    per = 1;
  } else if (t.ndim() == 1 && batch == 1 && t.dim(0) == seq_len) {
    tb = 1;
    per = seq_len;
  } else if (t.ndim() == 0) {
    tb = 1;
    per = 1;
  }
  if (tb == 0 || (tb != 1 && tb != batch) || (per != 1 && per != seq_len)) {
    throw Error(ErrorCode::kInvalidArgument,
                "DiT forward: timestep shape " + shape_str(t.shape()) + " does not fit batch " +
                    std::to_string(batch) + " and seq_len " + std::to_string(seq_len) +
                    " (expected [B], [1], [B, seq_len] or [seq_len])");
  }
  TimestepRows r;
  r.batch = batch;
  r.tokens = tokens;
  r.row.resize(static_cast<size_t>(batch * tokens));
  std::unordered_map<double, int32_t> index;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t tb_i = tb == 1 ? 0 : b;
    for (int64_t l = 0; l < tokens; ++l) {
      const float v = tv[static_cast<size_t>(tb_i * per + (per == 1 ? 0 : l))];
      WAN22_CHECK(std::isfinite(v), "DiT forward: timestep is not finite");
      auto [it, inserted] = index.try_emplace(static_cast<double>(v), static_cast<int32_t>(r.values.size()));
      if (inserted) r.values.push_back(static_cast<double>(v));
      r.row[static_cast<size_t>(b * tokens + l)] = it->second;
    }
  }
  return r;
}

Tensor sinusoidal_embedding(const std::vector<double>& t, int64_t freq_dim, bool f64) {
  WAN22_CHECK(freq_dim % 2 == 0, "sinusoidal_embedding: freq_dim must be even");
  const int64_t half = freq_dim / 2;
  const int64_t u = static_cast<int64_t>(t.size());
  Tensor out = Tensor::empty({u, freq_dim});
  float* o = out.data<float>();
  for (int64_t r = 0; r < u; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      if (f64) {
        // torch.pow(10000, -arange(half).div(half)) in float64, outer product, cos | sin.
        const double w = std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(half));
        const double a = t[static_cast<size_t>(r)] * w;
        o[r * freq_dim + i] = static_cast<float>(std::cos(a));
        o[r * freq_dim + half + i] = static_cast<float>(std::sin(a));
      } else {
        // exp(-ln(10000) * i / half) and the product in float32 (diffusers).
        const float e = static_cast<float>(-std::log(10000.0)) * static_cast<float>(i);
        const float w = std::exp(e / static_cast<float>(half));
        const float a = static_cast<float>(t[static_cast<size_t>(r)]) * w;
        o[r * freq_dim + i] = std::cos(a);
        o[r * freq_dim + half + i] = std::sin(a);
      }
    }
  }
  return out;
}

namespace {
void check_table(const Tensor& x, const Tensor& table, const TimestepRows& rows, const char* who) {
  WAN22_CHECK(x.ndim() == 3 && x.dim(0) == rows.batch && x.dim(1) == rows.tokens,
              std::string(who) + ": x " + shape_str(x.shape()) + " does not match the timestep rows [" +
                  std::to_string(rows.batch) + ", " + std::to_string(rows.tokens) + "]");
  WAN22_CHECK(table.ndim() == 3 && table.dim(0) == rows.distinct() && table.dim(2) == x.dim(2),
              std::string(who) + ": table " + shape_str(table.shape()) + " does not fit x " + shape_str(x.shape()));
  WAN22_CHECK(table.dtype() == DType::kF32 && table.is_contiguous(), std::string(who) + ": table must be contiguous f32");
}
}  // namespace

Tensor modulate(const Tensor& x_in, const Tensor& table, const TimestepRows& rows, int shift_idx, int scale_idx) {
  check_table(x_in, table, rows, "modulate");
  const Tensor x = x_in.to(DType::kF32).contiguous();
  const int64_t d = x.dim(2), k = table.dim(1), n = rows.batch * rows.tokens;
  Tensor out = Tensor::empty(x.shape());
  const float* xp = x.data<float>();
  const float* tp = table.data<float>();
  float* op = out.data<float>();
  parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* tr = tp + static_cast<int64_t>(rows.row[static_cast<size_t>(i)]) * k * d;
      const float* shift = tr + shift_idx * d;
      const float* scale = tr + scale_idx * d;
      const float* xr = xp + i * d;
      float* orow = op + i * d;
      for (int64_t c = 0; c < d; ++c) orow[c] = xr[c] * (1.0f + scale[c]) + shift[c];
    }
  });
  return out;
}

void gated_residual_(Tensor& x, const Tensor& y_in, const Tensor& table, const TimestepRows& rows, int gate_idx) {
  check_table(x, table, rows, "gated_residual_");
  WAN22_CHECK(x.dtype() == DType::kF32 && x.is_contiguous(), "gated_residual_: x must be contiguous f32");
  WAN22_CHECK(y_in.shape() == x.shape(), "gated_residual_: y " + shape_str(y_in.shape()) + " vs x " + shape_str(x.shape()));
  const Tensor y = y_in.to(DType::kF32).contiguous();
  const int64_t d = x.dim(2), k = table.dim(1), n = rows.batch * rows.tokens;
  float* xp = x.data<float>();
  const float* yp = y.data<float>();
  const float* tp = table.data<float>();
  parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* gate = tp + (static_cast<int64_t>(rows.row[static_cast<size_t>(i)]) * k + gate_idx) * d;
      const float* yr = yp + i * d;
      float* xr = xp + i * d;
      for (int64_t c = 0; c < d; ++c) xr[c] = xr[c] + yr[c] * gate[c];
    }
  });
}

}  // namespace wan22::models::dit
