// MP4 (H.264) and WebM (VP9/VP8) writing through libavformat / libavcodec; RGB -> yuv420p with
// libswscale, converted in parallel over frames with the wan22 thread pool.
#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/log.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/atomic_file.h"
#if WAN22_HAVE_LIBAV
#include "media/av_util.h"
#endif
#include "media/video.h"
#include "media/video_internal.h"

#if WAN22_HAVE_LIBAV
extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}
#endif

namespace wan22::media {
using namespace detail;

namespace {

std::string lower_ext(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

#if WAN22_HAVE_LIBAV
bool supports_yuv420p(const AVCodec* codec) {
  if (codec->pix_fmts == nullptr) return true;
  for (const AVPixelFormat* p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; ++p) {
    if (*p == AV_PIX_FMT_YUV420P) return true;
  }
  return false;
}

std::vector<std::string> available(const std::vector<const char*>& names) {
  std::vector<std::string> out;
  for (const char* n : names) {
    const AVCodec* c = avcodec_find_encoder_by_name(n);
    if (c != nullptr && supports_yuv420p(c)) out.emplace_back(n);
  }
  return out;
}

// x264 preset name -> libvpx cpu-used (good-quality deadline, 0 slowest .. 5 fastest).
int vpx_cpu_used(const std::string& preset) {
  static const std::pair<const char*, int> kMap[] = {
      {"ultrafast", 5}, {"superfast", 5}, {"veryfast", 4}, {"faster", 4}, {"fast", 3},
      {"medium", 2},    {"slow", 1},      {"slower", 1},   {"veryslow", 0}, {"placebo", 0}};
  for (const auto& [name, v] : kMap) {
    if (preset == name) return v;
  }
  return 2;
}

// Pads (edge-replicates) an RGB frame to (W, H) >= its size.
void pad_rgb(const Image& in, int W, int H, std::vector<uint8_t>& out) {
  const size_t stride = static_cast<size_t>(W) * 3;
  out.resize(stride * H);
  for (int y = 0; y < H; ++y) {
    const uint8_t* src = in.row(std::min(y, in.height - 1));
    uint8_t* dst = out.data() + y * stride;
    std::memcpy(dst, src, in.stride());
    for (int x = in.width; x < W; ++x) std::memcpy(dst + 3 * x, src + 3 * (in.width - 1), 3);
  }
}

// Owns an output AVFormatContext (and its open AVIOContext) so that a constructor that throws
// half-way still releases it.
struct OutputContext {
  AVFormatContext* oc = nullptr;
  OutputContext() = default;
  OutputContext(const OutputContext&) = delete;
  OutputContext& operator=(const OutputContext&) = delete;
  ~OutputContext() {
    if (oc == nullptr) return;
    if (oc->pb != nullptr) avio_closep(&oc->pb);
    avformat_free_context(oc);
  }
};

class Encoder {
 public:
  Encoder(const std::string& final_path, const std::string& temp_path, VideoFormat format,
          int width, int height, const VideoWriteOptions& opt)
      : final_path_(final_path), temp_path_(temp_path), width_(width), height_(height), opt_(opt) {
    const char* muxer = format == VideoFormat::kMp4 ? "mp4" : "webm";
    int rc = avformat_alloc_output_context2(&out_.oc, nullptr, muxer, temp_path.c_str());
    oc_ = out_.oc;
    if (rc < 0 || oc_ == nullptr) {
      throw_error(ErrorCode::kInternal, std::string("cannot create the ") + muxer +
                                            " muxer: " + av_error_text(rc));
    }
    open_encoder(format);
    open_output(format);
  }

  const std::string& codec_name() const { return codec_name_; }

  // Converts a batch of RGB frames to yuv420p AVFrames in parallel (one SwsContext per chunk).
  std::vector<FramePtr> convert(const std::vector<Image>& frames, size_t begin, size_t end) {
    std::vector<FramePtr> out(end - begin);
    for (auto& f : out) {
      f = alloc_frame();
      f->format = AV_PIX_FMT_YUV420P;
      f->width = width_;
      f->height = height_;
      f->color_range = AVCOL_RANGE_MPEG;
      f->colorspace = AVCOL_SPC_BT709;
      f->color_primaries = AVCOL_PRI_BT709;
      f->color_trc = AVCOL_TRC_BT709;
      int rc = av_frame_get_buffer(f.get(), 0);
      if (rc < 0) throw_error(ErrorCode::kOutOfMemory, "av_frame_get_buffer: " + av_error_text(rc));
    }
    parallel_for(0, static_cast<int64_t>(out.size()), 1, [&](int64_t i0, int64_t i1) {
      SwsPtr sws(sws_getContext(width_, height_, AV_PIX_FMT_RGB24, width_, height_,
                                AV_PIX_FMT_YUV420P, SWS_BICUBIC | SWS_ACCURATE_RND, nullptr,
                                nullptr, nullptr));
      if (!sws) throw_error(ErrorCode::kInternal, "sws_getContext failed (RGB24 -> yuv420p)");
      const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
      sws_setColorspaceDetails(sws.get(), bt709, /*srcRange=*/1, bt709, /*dstRange=*/0, 0,
                               1 << 16, 1 << 16);
      std::vector<uint8_t> padded;
      for (int64_t i = i0; i < i1; ++i) {
        const Image& img = frames[begin + i];
        const uint8_t* src = img.data.data();
        int src_stride = static_cast<int>(img.stride());
        if (img.width != width_ || img.height != height_) {
          pad_rgb(img, width_, height_, padded);
          src = padded.data();
          src_stride = width_ * 3;
        }
        AVFrame* f = out[i].get();
        const uint8_t* const src_planes[1] = {src};
        const int src_strides[1] = {src_stride};
        sws_scale(sws.get(), src_planes, src_strides, 0, height_, f->data, f->linesize);
      }
    });
    return out;
  }

  void encode(AVFrame* frame) {
    int rc = avcodec_send_frame(ctx_.get(), frame);
    if (rc < 0) {
      throw_error(ErrorCode::kInternal, "encoder " + codec_name_ + " rejected a frame: " +
                                            av_error_text(rc));
    }
    drain();
  }

  void finish() {
    encode(nullptr);  // flush
    int rc = av_write_trailer(oc_);
    if (rc < 0) io_failure("finishing", rc);
    rc = avio_closep(&oc_->pb);
    if (rc < 0) io_failure("closing", rc);
  }

 private:
  [[noreturn]] void io_failure(const char* what, int rc) {
    throw_error(ErrorCode::kIoError, std::string("error ") + what + " video '" + final_path_ +
                                         "': " + av_error_text(rc));
  }

  void drain() {
    PacketPtr pkt = alloc_packet();
    for (;;) {
      int rc = avcodec_receive_packet(ctx_.get(), pkt.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) {
        throw_error(ErrorCode::kInternal, "encoder " + codec_name_ + " failed: " + av_error_text(rc));
      }
      av_packet_rescale_ts(pkt.get(), ctx_->time_base, stream_->time_base);
      pkt->stream_index = stream_->index;
      rc = av_interleaved_write_frame(oc_, pkt.get());  // takes the packet's reference
      if (rc < 0) io_failure("writing", rc);
    }
  }

  std::vector<std::string> candidates(VideoFormat format) const {
    if (!opt_.codec.empty()) return {opt_.codec};
    return format == VideoFormat::kMp4 ? available_h264_encoders() : available_webm_encoders();
  }

  void open_encoder(VideoFormat format) {
    std::vector<std::string> tried;
    const int threads = resolve_threads(opt_.threads);
    for (const std::string& name : candidates(format)) {
      const AVCodec* codec = avcodec_find_encoder_by_name(name.c_str());
      if (codec == nullptr || codec->type != AVMEDIA_TYPE_VIDEO || !supports_yuv420p(codec)) {
        tried.push_back(name + " (not available)");
        continue;
      }
      if (format == VideoFormat::kMp4 && codec->id != AV_CODEC_ID_H264 && !opt_.codec.empty()) {
        LOG_WARN << "video '" << final_path_ << "': encoder " << name << " is not H.264";
      }
      CodecContextPtr ctx(avcodec_alloc_context3(codec));
      if (!ctx) throw_error(ErrorCode::kOutOfMemory, "avcodec_alloc_context3 failed");
      ctx->width = width_;
      ctx->height = height_;
      ctx->pix_fmt = AV_PIX_FMT_YUV420P;
      ctx->time_base = AVRational{opt_.fps_den, opt_.fps_num};
      ctx->framerate = AVRational{opt_.fps_num, opt_.fps_den};
      ctx->thread_count = threads;
      ctx->color_range = AVCOL_RANGE_MPEG;
      ctx->colorspace = AVCOL_SPC_BT709;
      ctx->color_primaries = AVCOL_PRI_BT709;
      ctx->color_trc = AVCOL_TRC_BT709;
      if (oc_->oformat->flags & AVFMT_GLOBALHEADER) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
      const bool vpx = codec->id == AV_CODEC_ID_VP9 || codec->id == AV_CODEC_ID_VP8;
      const int crf = opt_.crf >= 0 ? opt_.crf : (vpx ? 31 : 10);
      if (vpx) {
        // Constant quality: VP9 with bit_rate 0; VP8 needs a bitrate cap for its CQ mode.
        ctx->bit_rate = codec->id == AV_CODEC_ID_VP9 ? 0 : 50'000'000;
        av_opt_set_int(ctx->priv_data, "crf", crf, 0);
        av_opt_set(ctx->priv_data, "deadline", "good", 0);
        av_opt_set_int(ctx->priv_data, "cpu-used", vpx_cpu_used(opt_.preset), 0);
        if (codec->id == AV_CODEC_ID_VP9) av_opt_set_int(ctx->priv_data, "row-mt", 1, 0);
      } else {
        av_opt_set(ctx->priv_data, "preset", opt_.preset.c_str(), 0);
        av_opt_set_double(ctx->priv_data, "crf", crf, 0);
      }
      int rc = avcodec_open2(ctx.get(), codec, nullptr);
      if (rc < 0) {
        tried.push_back(name + " (" + av_error_text(rc) + ")");
        LOG_DEBUG << "video encoder " << name << " failed to open: " << av_error_text(rc);
        continue;
      }
      if (!tried.empty()) {
        LOG_WARN << "video '" << final_path_ << "': using encoder " << name << " (not available: "
                 << tried.front() << (tried.size() > 1 ? ", ..." : "") << ")";
      }
      ctx_ = std::move(ctx);
      codec_name_ = name;
      return;
    }
    std::string list;
    for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
    throw_error(ErrorCode::kUnsupported,
                std::string("no usable ") + (format == VideoFormat::kMp4 ? "H.264" : "VP9/VP8") +
                    " encoder for '" + final_path_ + "' in this libavcodec" +
                    (list.empty() ? std::string() : " (tried: " + list + ")"));
  }

  void open_output(VideoFormat format) {
    stream_ = avformat_new_stream(oc_, nullptr);
    if (stream_ == nullptr) throw_error(ErrorCode::kOutOfMemory, "avformat_new_stream failed");
    int rc = avcodec_parameters_from_context(stream_->codecpar, ctx_.get());
    if (rc < 0) throw_error(ErrorCode::kInternal, "avcodec_parameters_from_context: " + av_error_text(rc));
    stream_->time_base = ctx_->time_base;
    stream_->avg_frame_rate = ctx_->framerate;
    stream_->r_frame_rate = ctx_->framerate;

    if (!opt_.title.empty()) av_dict_set(&oc_->metadata, "title", opt_.title.c_str(), 0);
    if (!opt_.comment.empty()) av_dict_set(&oc_->metadata, "comment", opt_.comment.c_str(), 0);
    for (const auto& [k, v] : opt_.metadata) {
      if (k.empty()) throw_error(ErrorCode::kInvalidArgument, "video metadata with an empty key");
      av_dict_set(&oc_->metadata, k.c_str(), v.c_str(), 0);
    }

    rc = avio_open(&oc_->pb, temp_path_.c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) {
      throw_error(ErrorCode::kIoError, "cannot create video '" + final_path_ + "': " + av_error_text(rc));
    }
    AVDictionary* mux_opts = nullptr;
    if (format == VideoFormat::kMp4) {
      std::string flags = "+faststart";
      if (!opt_.metadata.empty()) flags += "+use_metadata_tags";
      av_dict_set(&mux_opts, "movflags", flags.c_str(), 0);
    }
    rc = avformat_write_header(oc_, &mux_opts);
    av_dict_free(&mux_opts);
    if (rc < 0) io_failure("starting", rc);
  }

  std::string final_path_, temp_path_;
  int width_, height_;
  const VideoWriteOptions& opt_;
  OutputContext out_;             // owns oc_
  AVFormatContext* oc_ = nullptr;
  AVStream* stream_ = nullptr;
  CodecContextPtr ctx_;
  std::string codec_name_;
};

#endif  // WAN22_HAVE_LIBAV
}  // namespace

const char* video_format_name(VideoFormat f) {
  switch (f) {
    case VideoFormat::kMp4: return "mp4";
    case VideoFormat::kWebm: return "webm";
    case VideoFormat::kPngFrames: return "png_frames";
    case VideoFormat::kAuto: break;
  }
  return "auto";
}

VideoFormat video_format_from_path(const std::string& path) {
  const std::string ext = lower_ext(path);
  if (ext == ".mp4") return VideoFormat::kMp4;
  if (ext == ".webm") return VideoFormat::kWebm;
  if (ext.empty()) return VideoFormat::kPngFrames;
  return VideoFormat::kAuto;  // unknown extension
}

std::vector<std::string> available_h264_encoders() {
#if !WAN22_HAVE_LIBAV
  return {};
#else
  return available({"libx264", "libopenh264", "h264_nvenc", "h264_qsv", "h264_amf", "h264_mf",
                    "h264_v4l2m2m"});
#endif
}

std::vector<std::string> available_webm_encoders() {
#if !WAN22_HAVE_LIBAV
  return {};
#else
  return available({"libvpx-vp9", "libvpx"});
#endif
}

namespace detail {

void validate_frames(const std::vector<Image>& frames, const std::string& path) {
  if (frames.empty()) {
    throw_error(ErrorCode::kInvalidArgument, "cannot write video '" + path + "': no frames");
  }
  const int w = frames[0].width, h = frames[0].height;
  for (size_t i = 0; i < frames.size(); ++i) {
    const Image& f = frames[i];
    if (f.empty() || f.data.size() != f.stride() * f.height || f.width != w || f.height != h) {
      throw_error(ErrorCode::kInvalidArgument,
                  "cannot write video '" + path + "': frame " + std::to_string(i) + " is " +
                      std::to_string(f.width) + "x" + std::to_string(f.height) + " but frame 0 is " +
                      std::to_string(w) + "x" + std::to_string(h) + " (or its data is incomplete)");
    }
  }
}

int resolve_threads(int requested) {
  return requested > 0 ? requested : default_pool().num_threads();
}

}  // namespace detail

VideoWriteResult write_video(const std::string& path, const std::vector<Image>& frames,
                             const VideoWriteOptions& opt) {
#if WAN22_HAVE_LIBAV
  init_av_logging();
#endif
  if (path.empty()) throw_error(ErrorCode::kInvalidArgument, "video output path is empty");
  validate_frames(frames, path);
  if (opt.fps_num <= 0 || opt.fps_den <= 0) {
    throw_error(ErrorCode::kInvalidArgument, "video '" + path + "': invalid fps " +
                                                 std::to_string(opt.fps_num) + "/" +
                                                 std::to_string(opt.fps_den));
  }
  const VideoFormat format = opt.format == VideoFormat::kAuto ? video_format_from_path(path) : opt.format;
  if (format == VideoFormat::kAuto) {
    throw_error(ErrorCode::kInvalidArgument,
                "cannot tell the video format of '" + path + "' from its extension '" + lower_ext(path) +
                    "' (use .mp4, .webm, or a directory name without an extension for PNG frames)");
  }
  if (format == VideoFormat::kPngFrames) return write_png_frames(path, frames, opt);
#if !WAN22_HAVE_LIBAV
  throw_error(ErrorCode::kUnsupported,
              "cannot write '" + path + "': this wan22 build has no video encoder (configured with "
              "WAN22_WITH_LIBAV=OFF); write PNG frames instead (an output path without an extension)");
#else
  if (opt.crf > 63 || (format == VideoFormat::kMp4 && opt.crf > 51)) {
    throw_error(ErrorCode::kInvalidArgument, "video '" + path + "': crf " + std::to_string(opt.crf) +
                                                 " is out of range (H.264: 0..51, VP9/VP8: 0..63)");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw_error(ErrorCode::kInvalidArgument, "cannot write video '" + path + "': it is a directory");
  }
  if (!opt.overwrite && std::filesystem::exists(path, ec)) {
    throw_error(ErrorCode::kInvalidArgument, "video '" + path + "' already exists");
  }
  const int w = frames[0].width, h = frames[0].height;
  const bool odd = (w % 2) != 0 || (h % 2) != 0;
  if (odd && opt.odd_size == OddSizePolicy::kError) {
    throw_error(ErrorCode::kInvalidArgument,
                "video '" + path + "': " + std::to_string(w) + "x" + std::to_string(h) +
                    " has an odd side; yuv420p H.264/VP9 needs even width and height");
  }
  const int W = w + (w % 2), H = h + (h % 2);

  AtomicOutput out(path);
  VideoWriteResult result;
  {
    Encoder enc(out.final_path(), out.temp_path(), format, W, H, opt);
    const size_t batch = static_cast<size_t>(std::max(8, 2 * resolve_threads(0)));
    for (size_t b = 0; b < frames.size(); b += batch) {
      const size_t e = std::min(frames.size(), b + batch);
      std::vector<FramePtr> yuv = enc.convert(frames, b, e);
      for (size_t i = 0; i < yuv.size(); ++i) {
        yuv[i]->pts = static_cast<int64_t>(b + i);
        enc.encode(yuv[i].get());
      }
    }
    enc.finish();
    result.codec = enc.codec_name();
  }
  out.commit();
  result.path = out.final_path();
  result.format = format;
  result.width = W;
  result.height = H;
  result.padded = odd;
  result.frames = static_cast<int64_t>(frames.size());
  result.fps_num = opt.fps_num;
  result.fps_den = opt.fps_den;
  return result;
#endif
}

}  // namespace wan22::media
