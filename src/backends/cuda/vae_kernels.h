// Device kernels of the VAE on the GPU (vae_cuda.h). Activations are channels-last rows
// [positions, C] of one video (position = (t, y, x), row-major), stored as bf16 or f32 (`dt`), with
// fp32 math inside every kernel. C is the padded channel count (a multiple of 8; padding channels
// hold zeros and every kernel keeps them zero). Every entry point takes an Exec: a stream (device
// pointers; every launch is checked and throws wan22::Error with file:line), or Exec::on_host(),
// which runs the same per-element code as a CPU loop over host pointers (the tests of these code
// paths on machines without a GPU).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace wan22::cuda::vae {

// Where a kernel runs: on a CUDA stream, or on the calling CPU (on_host()).
struct Exec {
  cudaStream_t stream = nullptr;
  bool host = false;
  explicit Exec(cudaStream_t s) : stream(s) {}
  static Exec on_host() {
    Exec e(nullptr);
    e.host = true;
    return e;
  }
};

// ---------------- norms and elementwise ----------------

// y = [SiLU](F.normalize(x + bias) * sqrt(c_real) * gamma) per row of c channels (the VAE's
// RMS_norm: x / max(||x||, 1e-12)). bias f32 [c] or nullptr (the bias of the conv that produced x),
// gamma f32 [c] (zero in the padding channels). y may not alias x. When y2 is set, rows >= y2_from
// are also written to y2 (row r at y2 + (r - y2_from) * c): a second copy of the last frames.
void rms_norm_act(DType dt, const void* x, const float* bias, const float* gamma, void* y,
                  int64_t rows, int64_t c, int64_t c_real, bool silu, void* y2, int64_t y2_from,
                  Exec ex);

// y += bias [+ r + r_bias] per row of c channels (any of bias, r, r_bias may be nullptr).
void add_bias_residual(DType dt, void* y, const float* bias, const void* r, const float* r_bias,
                       int64_t rows, int64_t c, Exec ex);

// The temporal upsampling of Resample("upsample3d"): y [t, hw, 2c] (+ bias [2c]) holds two frames
// per input frame stacked on channels -> out [2t, hw, c] (frame 2i from channels [0, c), 2i+1 from
// [c, 2c)).
void interleave_time(DType dt, const void* y, const float* bias, void* out, int64_t t, int64_t hw,
                     int64_t c, Exec ex);

// Nearest 2x spatial upsampling: x [t, h, w, c] -> out [t, 2h, 2w, c].
void upsample_nearest2x(DType dt, const void* x, void* out, int64_t t, int64_t h, int64_t w,
                        int64_t c, Exec ex);

// Zero row/column appended at the bottom/right (nn.ZeroPad2d((0, 1, 0, 1))): x [t, h, w, c] ->
// out [t, h+1, w+1, c].
void pad_bottom_right(DType dt, const void* x, void* out, int64_t t, int64_t h, int64_t w,
                      int64_t c, Exec ex);

// ---------------- the Wan2.2 shortcuts ----------------

// DupUp3D(cin -> cout, factor_t ft, factor_s fs) of the block input x [t, h, w, cin]: output frame
// f (after dropping the first ft - 1 on the first chunk), pixel (Y, X), channel o reads input
// channel k / repeats of frame (f') / ft at (Y / fs, X / fs), with k = ((o*ft + f'%ft)*fs +
// Y%fs)*fs
// + X%fs, repeats = cout*ft*fs*fs / cin.
struct DupUp {
  const void* x = nullptr;  // nullptr: no shortcut
  int64_t t = 0, h = 0, w = 0, cin = 0;
  int ft = 1, fs = 1;
  bool first_chunk = false;
};

// The sub-pixel form of "nearest 2x upsample, then 3x3 conv (pad 1)": y [t, h+1, w+1, 4c] is the
// 2x2 conv (pad 1) whose output channel group 2a+b holds phase (a, b); out [t, 2h, 2w, c] =
// y[t, i+a, j+b, (2a+b)c + ch] (+ bias[ch]) at (2i+a, 2j+b) (+ the DupUp3D shortcut when dup.x).
void subpixel_shuffle(DType dt, const void* y, const float* bias, void* out, int64_t t, int64_t h,
                      int64_t w, int64_t c, const DupUp& dup, Exec ex);

// out [t, h, w, c] += bias + DupUp3D(dup) (the direct, non-sub-pixel upsampling path).
void add_bias_dupup(DType dt, void* out, const float* bias, int64_t t, int64_t h, int64_t w,
                    int64_t c, const DupUp& dup, Exec ex);

// out [to, ho, wo, cout] += AvgDown3D(x [tin, hin, win, cin], ft, fs): the mean over the channel
// group of the (ft, fs, fs)-folded, front-zero-padded input (identity when ft = fs = 1 and
// cin = cout).
void add_avgdown(DType dt, void* out, int64_t to, int64_t ho, int64_t wo, int64_t cout,
                 const void* x, int64_t tin, int64_t hin, int64_t win, int64_t cin, int ft, int fs,
                 Exec ex);

// ---------------- video and latent layouts ----------------

// Placement of a tile's output (decoded pixels in the video, or encoded latent pixels in the
// latent), with linear blending ramps (in output pixels) on the sides that overlap a neighbouring
// tile. accumulate = false writes the values (untiled); accumulate = true adds weight * value (the
// caller adds the weights with add_tile_weight and divides at the end).
struct TileBlend {
  int64_t y0 = 0, x0 = 0;  // tile origin in the output (pixels)
  int64_t ramp_top = 0, ramp_bottom = 0, ramp_left = 0, ramp_right = 0;
  bool accumulate = false;
};

// Video f32 [C, F, H, W], frames [f0, f0 + t), pixels [y0, y0 + h) x [x0, x0 + w) ->
// activations [t, h/p, w/p, cp] with the Wan2.2 patchify channel order (c*p + r)*p + q (q: row
// phase, r: column phase); channels >= C*p*p zero.
void video_to_act(DType dt, const float* video, int64_t C, int64_t F, int64_t H, int64_t W,
                  int64_t f0, int64_t t, int64_t y0, int64_t x0, int64_t h, int64_t w, int p,
                  void* out, int64_t cp, Exec ex);

// Normalised latent f32 [z, F, Hl, Wl], frames [f0, f0 + t), region rows [y0, y0 + h) x cols
// [x0, x0 + w) -> activations [t, h, w, zp] of v / inv_std[c] + mean[c] (the reference's
// denormalisation); channels >= z zero.
void latent_to_act(DType dt, const float* latent, int64_t z, int64_t F, int64_t Hl, int64_t Wl,
                   int64_t f0, int64_t t, int64_t y0, int64_t x0, int64_t h, int64_t w,
                   const float* mean, const float* inv_std, void* out, int64_t zp, Exec ex);

// mu [t, h, w, cp] (first z channels, + bias) -> normalised latent f32 [z, F, Hl, Wl] frames
// [f0, f0 + t), pixels [y0, y0 + h) x [x0, x0 + w) of blend: (mu + bias - mean) * inv_std.
void act_to_latent(DType dt, const void* mu, const float* bias, int64_t t, int64_t h, int64_t w,
                   int64_t cp, int64_t z, const float* mean, const float* inv_std, float* latent,
                   int64_t F, int64_t Hl, int64_t Wl, int64_t f0, const TileBlend& blend, Exec ex);

// Decoder head output y [t, h, w, cp] (+ bias) -> unpatchify (p) into video f32 [C, F, H, W],
// frames [f0, f0 + t), the tile's pixels [y0, y0 + h*p) x [x0, x0 + w*p).
void head_to_video(DType dt, const void* y, const float* bias, int64_t t, int64_t h, int64_t w,
                   int64_t cp, int p, float* video, int64_t C, int64_t F, int64_t H, int64_t W,
                   int64_t f0, const TileBlend& blend, Exec ex);
// wsum [H, W] += the tile's blending weights (tile of th x tw output pixels).
void add_tile_weight(float* wsum, int64_t H, int64_t W, int64_t th, int64_t tw,
                     const TileBlend& blend, Exec ex);
// video (or latent) [C, F, H, W] /= wsum [H, W].
void divide_by_weight(float* video, const float* wsum, int64_t C, int64_t F, int64_t H, int64_t W,
                      Exec ex);

// ---------------- attention, weights ----------------

// P = softmax(S) per row (S f32 [rows, cols], already scaled) -> P (dt) [rows, cols].
void softmax_rows(DType dt, const float* s, void* p, int64_t rows, int64_t cols, Exec ex);

// Zeroes the padding of weights/biases laid out as rows of cp values, `group` rows per output
// channel (a conv weight [cout_p, kt, kh, kw, cin_p]: rows = cout_p*kt*kh*kw, group = kt*kh*kw):
// element (r, i) with i >= c_real or r / group >= out_real.
void zero_padding(DType dt, void* p, int64_t rows, int64_t cp, int64_t c_real, int64_t group,
                  int64_t out_real, Exec ex);

}  // namespace wan22::cuda::vae
