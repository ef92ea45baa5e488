// Building the GPU VAE's layers (see vae_cuda_layers.h).
#include "backends/cuda/device_tensor.h"
#include "backends/cuda/vae_cuda_layers.h"

#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/vae_kernels.h"
#include "core/status.h"

namespace wan22::cuda::vae_net {

using models::vae::VaeConfig;
using models::vae::VaeVersion;

namespace {

// ---------------- weights: from a WeightStore or seeded random on the device ----------------

class Builder {
 public:
  Builder(const io::WeightStore* ws, uint64_t seed, DType dt, cudaStream_t st, bool host)
      : ws_(ws), seed_(seed), dt_(dt), st_(st), host_(host) {
    if (!ws_ && host_)
      throw Error(ErrorCode::kUnsupported, "VaeCuda: random weights need the device");
  }

  size_t bytes() const { return bytes_; }

  // CausalConv3d / Conv2d / 1x1: "<prefix>weight" [cout, cin, kt, kh, kw] (or [cout, cin, kh, kw]
  // with two_d) and "<prefix>bias". keep_rows > 0 keeps the first keep_rows output channels.
  DConv conv(const std::string& prefix, int64_t cin, int64_t cout, int kt, int kh, int kw, int ph,
             int pw, bool two_d = false, int64_t keep_rows = 0) {
    DConv c;
    const int64_t rows = keep_rows > 0 ? keep_rows : cout;
    c.cin = cin, c.cout = rows, c.cin_p = pad8(cin), c.cout_p = pad8(rows);
    c.kt = kt, c.kh = kh, c.kw = kw, c.ph = ph, c.pw = pw;
    const int64_t kvol = static_cast<int64_t>(kt) * kh * kw;
    if (ws_) {
      Shape shape = two_d ? Shape{cout, cin, kh, kw} : Shape{cout, cin, kt, kh, kw};
      const Tensor w = ws_->get_f32(prefix + "weight", shape).contiguous();
      const Tensor b = ws_->get_f32(prefix + "bias", {cout}).contiguous();
      Tensor hw = Tensor::zeros({c.cout_p, kt, kh, kw, c.cin_p});
      const float* src = w.data<float>();
      float* dst = hw.data<float>();
      for (int64_t o = 0; o < rows; ++o)
        for (int64_t i = 0; i < cin; ++i)
          for (int64_t k = 0; k < kvol; ++k)
            dst[(o * kvol + k) * c.cin_p + i] = src[(o * cin + i) * kvol + k];
      c.w = upload(hw, dt_);
      Tensor hb = Tensor::zeros({c.cout_p});
      for (int64_t o = 0; o < rows; ++o) hb.data<float>()[o] = b.data<float>()[o];
      c.b = upload(hb, DType::kF32);
    } else {
      c.w = random_weight({c.cout_p, kt, kh, kw, c.cin_p}, static_cast<double>(cin * kvol),
                          c.cout_p * kvol, c.cin_p, cin, kvol, rows);
      c.b = random_bias(c.cout_p, rows);
    }
    return c;
  }

  // Resample's "resample.1" 3x3 conv in the sub-pixel form of "nearest 2x, then 3x3 pad 1": a 2x2
  // conv (pad 1) with 4*cout outputs, phase (a, b) in output group 2a+b; bias [cout].
  DConv subpixel(const std::string& prefix, int64_t cin, int64_t cout) {
    DConv c;
    c.cin = cin, c.cout = 4 * cout, c.cin_p = pad8(cin), c.cout_p = 4 * cout;
    c.kt = 1, c.kh = 2, c.kw = 2, c.ph = 1, c.pw = 1;
    if (ws_) {
      const Tensor w = ws_->get_f32(prefix + "weight", {cout, cin, 3, 3}).contiguous();
      const Tensor b = ws_->get_f32(prefix + "bias", {cout}).contiguous();
      // rows of the 3x3 kernel that fold onto tap r of phase a: a=0: {0}, {1,2}; a=1: {0,1}, {2}
      const int lo[2][2] = {{0, 1}, {0, 2}}, hi[2][2] = {{0, 2}, {1, 2}};
      Tensor hw = Tensor::zeros({4 * cout, 1, 2, 2, c.cin_p});
      const float* src = w.data<float>();
      float* dst = hw.data<float>();
      for (int a = 0; a < 2; ++a)
        for (int bb = 0; bb < 2; ++bb)
          for (int64_t o = 0; o < cout; ++o)
            for (int ry = 0; ry < 2; ++ry)
              for (int rx = 0; rx < 2; ++rx)
                for (int64_t i = 0; i < cin; ++i) {
                  double s = 0.0;
                  for (int ky = lo[a][ry]; ky <= hi[a][ry]; ++ky)
                    for (int kx = lo[bb][rx]; kx <= hi[bb][rx]; ++kx)
                      s += src[((o * cin + i) * 3 + ky) * 3 + kx];
                  dst[((((2 * a + bb) * cout + o) * 2 + ry) * 2 + rx) * c.cin_p + i] =
                      static_cast<float>(s);
                }
      c.w = upload(hw, dt_);
      Tensor hb = Tensor::zeros({pad8(cout)});
      for (int64_t o = 0; o < cout; ++o) hb.data<float>()[o] = b.data<float>()[o];
      c.b = upload(hb, DType::kF32);
    } else {
      c.w = random_weight({4 * cout, 1, 2, 2, c.cin_p}, static_cast<double>(cin * 9), 4 * cout * 4,
                          c.cin_p, cin, 1, 4 * cout * 4);
      c.b = random_bias(pad8(cout), cout);
    }
    return c;
  }

  // RMS_norm gamma [c, 1, 1, 1] (or [c, 1, 1] for images) -> f32 [cp].
  DNorm norm(const std::string& key, int64_t c, bool images) {
    DNorm n;
    n.c = c, n.cp = pad8(c);
    if (ws_) {
      const Tensor g =
          (images ? ws_->get_f32(key, {c, 1, 1}) : ws_->get_f32(key, {c, 1, 1, 1})).contiguous();
      Tensor hg = Tensor::zeros({n.cp});
      for (int64_t i = 0; i < c; ++i) hg.data<float>()[i] = g.data<float>()[i];
      n.gamma = upload(hg, DType::kF32);
    } else {
      n.gamma = Tensor::empty({n.cp}, DType::kF32, gpu());
      fill_uniform_f32(static_cast<float*>(n.gamma.raw_data()), n.cp, ++seed_, 0.9f, 1.1f, st_);
      vae::zero_padding(DType::kF32, n.gamma.raw_data(), 1, n.cp, c, 1, 1, vae::Exec(st_));
      bytes_ += n.gamma.nbytes();
    }
    return n;
  }

 private:
  Tensor upload(const Tensor& host_f32, DType dt) {
    const Tensor h = dt == DType::kF32 ? host_f32 : host_f32.to(dt);
    if (host_) {
      bytes_ += h.nbytes();
      return h;
    }
    Tensor d = Tensor::empty(h.shape(), dt, gpu());
    WAN22_CUDA_CHECK(
        cudaMemcpyAsync(d.raw_data(), h.raw_data(), h.nbytes(), cudaMemcpyHostToDevice, st_));
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st_));  // h dies here
    bytes_ += d.nbytes();
    return d;
  }

  // Uniform(-a, a), a = sqrt(3 / fan_in): unit-variance outputs for unit-variance inputs; padding
  // (columns >= c_real, output channels >= out_real) zeroed.
  Tensor random_weight(const Shape& shape, double fan_in, int64_t rows, int64_t cp, int64_t c_real,
                       int64_t group, int64_t out_real) {
    Tensor d = Tensor::empty(shape, dt_, gpu());
    const float a = static_cast<float>(std::sqrt(3.0 / fan_in));
    if (dt_ == DType::kBF16) {
      fill_uniform_bf16(static_cast<bf16*>(d.raw_data()), d.numel(), ++seed_, -a, a, st_);
    } else {
      fill_uniform_f32(static_cast<float*>(d.raw_data()), d.numel(), ++seed_, -a, a, st_);
    }
    vae::zero_padding(dt_, d.raw_data(), rows, cp, c_real, group, out_real, vae::Exec(st_));
    bytes_ += d.nbytes();
    return d;
  }
  Tensor random_bias(int64_t n, int64_t real) {
    Tensor d = Tensor::empty({n}, DType::kF32, gpu());
    fill_uniform_f32(static_cast<float*>(d.raw_data()), n, ++seed_, -0.02f, 0.02f, st_);
    vae::zero_padding(DType::kF32, d.raw_data(), n, 1, 1, 1, real, vae::Exec(st_));
    bytes_ += d.nbytes();
    return d;
  }

  const io::WeightStore* ws_;
  uint64_t seed_;
  DType dt_;
  cudaStream_t st_;
  bool host_;
  size_t bytes_ = 0;
};

void require_width(int64_t c, const std::string& what) {
  if (c % 8 != 0) {
    throw Error(ErrorCode::kUnsupported,
                "VaeCuda: " + what + " has " + std::to_string(c) +
                    " channels; the GPU VAE needs inner widths that are multiples of 8");
  }
}

DRes build_res(Builder& b, const std::string& p, int64_t in, int64_t out, int& slots) {
  require_width(in, p + " input");
  require_width(out, p + " output");
  DRes r;
  r.n1 = b.norm(p + "residual.0.gamma", in, false);
  r.c1 = b.conv(p + "residual.2.", in, out, 3, 3, 3, 1, 1);
  r.n2 = b.norm(p + "residual.3.gamma", out, false);
  r.c2 = b.conv(p + "residual.6.", out, out, 3, 3, 3, 1, 1);
  if (in != out) {
    r.sc = b.conv(p + "shortcut.", in, out, 1, 1, 1, 0, 0);
    r.has_sc = true;
  }
  r.s1 = slots++;
  r.s2 = slots++;
  return r;
}

DAttn build_attn(Builder& b, const std::string& p, int64_t dim) {
  require_width(dim, p + " attention");
  DAttn a;
  a.c = dim;
  a.n = b.norm(p + "norm.gamma", dim, true);
  a.qkv = b.conv(p + "to_qkv.", dim, 3 * dim, 1, 1, 1, 0, 0, /*two_d=*/true);
  a.proj = b.conv(p + "proj.", dim, dim, 1, 1, 1, 0, 0, /*two_d=*/true);
  return a;
}

DResample build_resample(Builder& b, const std::string& p, int64_t dim, ResampleMode mode,
                         int64_t up_out, bool subpixel, int& slots) {
  DResample r;
  r.mode = mode;
  r.dim = dim;
  const bool up = mode == ResampleMode::kUpsample2d || mode == ResampleMode::kUpsample3d;
  r.out = up ? up_out : dim;
  require_width(dim, p + " resample input");
  require_width(r.out, p + " resample output");
  if (up && subpixel) {
    r.spatial = b.subpixel(p + "resample.1.", dim, r.out);
    r.subpixel = true;
  } else if (up) {
    r.spatial = b.conv(p + "resample.1.", dim, r.out, 1, 3, 3, 1, 1, /*two_d=*/true);
  } else {
    r.spatial = b.conv(p + "resample.1.", dim, dim, 1, 3, 3, 0, 0, /*two_d=*/true);
    r.spatial.sh = r.spatial.sw = 2;
  }
  if (mode == ResampleMode::kUpsample3d) {
    r.time = b.conv(p + "time_conv.", dim, 2 * dim, 3, 1, 1, 0, 0);
    r.has_time = true;
    r.slot = slots++;
  } else if (mode == ResampleMode::kDownsample3d) {
    r.time = b.conv(p + "time_conv.", dim, dim, 3, 1, 1, 0, 0);
    r.time.st = 2;
    r.has_time = true;
    r.slot = slots++;
  }
  return r;
}

DEncoder build_encoder(Builder& b, const VaeConfig& cfg) {
  DEncoder e;
  const std::string pre = "encoder.";
  const int levels = static_cast<int>(cfg.dim_mult.size());
  std::vector<int64_t> dims = {cfg.dim};
  for (int m : cfg.dim_mult) dims.push_back(static_cast<int64_t>(cfg.dim) * m);
  const int64_t in_ch = static_cast<int64_t>(cfg.in_channels) * cfg.patch() * cfg.patch();
  const bool v22 = cfg.version == VaeVersion::kWan22;
  e.conv1 = b.conv(pre + "conv1.", in_ch, dims[0], 3, 3, 3, 1, 1);
  e.s_conv1 = e.slots++;
  int flat_index = 0;
  for (int i = 0; i < levels; ++i) {
    int64_t in = dims[i];
    const int64_t out = dims[i + 1];
    const bool t_down =
        i < static_cast<int>(cfg.temperal_downsample.size()) && cfg.temperal_downsample[i];
    const bool down_flag = i != levels - 1;
    const ResampleMode mode = t_down ? ResampleMode::kDownsample3d : ResampleMode::kDownsample2d;
    if (v22) {
      const std::string bp = pre + "downsamples." + std::to_string(i) + ".downsamples.";
      DBlock blk;
      blk.in = in, blk.out = out;
      blk.ft = t_down ? 2 : 1;
      blk.fs = down_flag ? 2 : 1;
      blk.shortcut = true;
      for (int j = 0; j < cfg.num_res_blocks; ++j) {
        blk.res.push_back(build_res(b, bp + std::to_string(j) + ".", in, out, e.slots));
        in = out;
      }
      if (down_flag) {
        blk.rs = build_resample(b, bp + std::to_string(cfg.num_res_blocks) + ".", out, mode, out,
                                false, e.slots);
        blk.has_rs = true;
      }
      e.blocks.push_back(std::move(blk));
    } else {
      for (int j = 0; j < cfg.num_res_blocks; ++j) {
        DLayer l;
        l.res = build_res(b, pre + "downsamples." + std::to_string(flat_index++) + ".", in, out,
                          e.slots);
        e.flat.push_back(std::move(l));
        in = out;
      }
      if (down_flag) {
        DLayer l;
        l.is_res = false;
        l.rs = build_resample(b, pre + "downsamples." + std::to_string(flat_index++) + ".", out,
                              mode, out, false, e.slots);
        e.flat.push_back(std::move(l));
      }
    }
  }
  const int64_t top = dims.back();
  e.mid0 = build_res(b, pre + "middle.0.", top, top, e.slots);
  e.attn = build_attn(b, pre + "middle.1.", top);
  e.mid2 = build_res(b, pre + "middle.2.", top, top, e.slots);
  e.head_norm = b.norm(pre + "head.0.gamma", top, false);
  const int64_t z = cfg.z_dim;
  e.head = b.conv(pre + "head.2.", top, 2 * z, 3, 3, 3, 1, 1);
  e.s_head = e.slots++;
  e.quant_mu = b.conv("conv1.", 2 * z, 2 * z, 1, 1, 1, 0, 0, false, /*keep_rows=*/z);
  return e;
}

DDecoder build_decoder(Builder& b, const VaeConfig& cfg, bool subpixel) {
  DDecoder d;
  const std::string pre = "decoder.";
  const int levels = static_cast<int>(cfg.dim_mult.size());
  std::vector<int64_t> dims = {static_cast<int64_t>(cfg.dec_dim) * cfg.dim_mult.back()};
  for (int i = levels - 1; i >= 0; --i)
    dims.push_back(static_cast<int64_t>(cfg.dec_dim) * cfg.dim_mult[i]);
  std::vector<bool> t_up_flags(cfg.temperal_downsample.rbegin(), cfg.temperal_downsample.rend());
  const int64_t out_ch = static_cast<int64_t>(cfg.in_channels) * cfg.patch() * cfg.patch();
  const bool v22 = cfg.version == VaeVersion::kWan22;
  const int64_t z = cfg.z_dim;

  d.post_quant = b.conv("conv2.", z, z, 1, 1, 1, 0, 0);
  d.conv1 = b.conv(pre + "conv1.", z, dims[0], 3, 3, 3, 1, 1);
  d.s_conv1 = d.slots++;
  d.mid0 = build_res(b, pre + "middle.0.", dims[0], dims[0], d.slots);
  d.attn = build_attn(b, pre + "middle.1.", dims[0]);
  d.mid2 = build_res(b, pre + "middle.2.", dims[0], dims[0], d.slots);
  int flat_index = 0;
  int64_t out = dims[0];
  for (int i = 0; i < levels; ++i) {
    int64_t in = dims[i];
    out = dims[i + 1];
    const bool t_up = i < static_cast<int>(t_up_flags.size()) && t_up_flags[i];
    const bool up_flag = i != levels - 1;
    const ResampleMode mode = t_up ? ResampleMode::kUpsample3d : ResampleMode::kUpsample2d;
    if (v22) {
      const std::string bp = pre + "upsamples." + std::to_string(i) + ".upsamples.";
      DBlock blk;
      blk.in = in, blk.out = out;
      blk.shortcut = up_flag;
      blk.ft = t_up ? 2 : 1;
      blk.fs = up_flag ? 2 : 1;
      for (int j = 0; j < cfg.num_res_blocks + 1; ++j) {
        blk.res.push_back(build_res(b, bp + std::to_string(j) + ".", in, out, d.slots));
        in = out;
      }
      if (up_flag) {
        blk.rs = build_resample(b, bp + std::to_string(cfg.num_res_blocks + 1) + ".", out, mode,
                                out, subpixel, d.slots);
        blk.has_rs = true;
      }
      d.blocks.push_back(std::move(blk));
    } else {
      if (i == 1 || i == 2 || i == 3) in = in / 2;
      for (int j = 0; j < cfg.num_res_blocks + 1; ++j) {
        DLayer l;
        l.res =
            build_res(b, pre + "upsamples." + std::to_string(flat_index++) + ".", in, out, d.slots);
        d.flat.push_back(std::move(l));
        in = out;
      }
      if (up_flag) {
        DLayer l;
        l.is_res = false;
        l.rs = build_resample(b, pre + "upsamples." + std::to_string(flat_index++) + ".", out, mode,
                              out / 2, subpixel, d.slots);
        d.flat.push_back(std::move(l));
      }
    }
  }
  d.head_norm = b.norm(pre + "head.0.gamma", out, false);
  d.head = b.conv(pre + "head.2.", out, out_ch, 3, 3, 3, 1, 1);
  d.s_head = d.slots++;
  return d;
}

}  // namespace

Network build_network(const io::WeightStore* ws, uint64_t seed, const VaeConfig& cfg, DType dt,
                      bool encoder, bool decoder, bool subpixel, bool host, cudaStream_t stream) {
  Builder b(ws, seed, dt, stream, host);
  Network n;
  if (encoder) {
    n.enc = build_encoder(b, cfg);
    n.has_enc = true;
  }
  if (decoder) {
    n.dec = build_decoder(b, cfg, subpixel);
    n.has_dec = true;
  }
  n.bytes = b.bytes();
  return n;
}

}  // namespace wan22::cuda::vae_net
