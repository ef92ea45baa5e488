// Decoding a video file back to RGB8 frames with libavformat / libavcodec / libswscale.
#include <filesystem>

#include "core/status.h"
#if WAN22_HAVE_LIBAV
#include "media/av_util.h"
#endif
#include "media/video.h"
#include "media/video_internal.h"

#if WAN22_HAVE_LIBAV
extern "C" {
#include <libavutil/pixdesc.h>
}
#endif

namespace wan22::media {
using namespace detail;

#if WAN22_HAVE_LIBAV
namespace {

struct InputCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};

int sws_colorspace_of(AVColorSpace cs) {
  switch (cs) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_DEFAULT;  // BT.601
  }
}

class FrameConverter {
 public:
  Image to_rgb(const AVFrame* f) {
    if (!sws_ || f->width != w_ || f->height != h_ || f->format != fmt_ ||
        f->colorspace != cs_ || f->color_range != range_) {
      sws_.reset(sws_getContext(f->width, f->height, static_cast<AVPixelFormat>(f->format), f->width,
                                f->height, AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND |
                                SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr));
      if (!sws_) throw_error(ErrorCode::kUnsupported, "cannot convert decoded frames to RGB");
      const int* coeffs = sws_getCoefficients(sws_colorspace_of(f->colorspace));
      const int src_full = f->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
      sws_setColorspaceDetails(sws_.get(), coeffs, src_full, coeffs, 1, 0, 1 << 16, 1 << 16);
      w_ = f->width;
      h_ = f->height;
      fmt_ = f->format;
      cs_ = f->colorspace;
      range_ = f->color_range;
    }
    Image img = Image::create(f->width, f->height);
    uint8_t* dst[1] = {img.data.data()};
    const int dst_stride[1] = {static_cast<int>(img.stride())};
    sws_scale(sws_.get(), f->data, f->linesize, 0, f->height, dst, dst_stride);
    return img;
  }

 private:
  SwsPtr sws_;
  int w_ = 0, h_ = 0, fmt_ = -1;
  AVColorSpace cs_ = AVCOL_SPC_UNSPECIFIED;
  AVColorRange range_ = AVCOL_RANGE_UNSPECIFIED;
};

void copy_tags(const AVDictionary* d, std::map<std::string, std::string>& out) {
  const AVDictionaryEntry* e = nullptr;
  while ((e = av_dict_get(d, "", e, AV_DICT_IGNORE_SUFFIX)) != nullptr) out.emplace(e->key, e->value);
}

}  // namespace
#endif  // WAN22_HAVE_LIBAV

DecodedVideo read_video(const std::string& path, bool keep_frames) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw_error(ErrorCode::kNotFound, "video '" + path + "' does not exist");
  }
  if (std::filesystem::is_directory(path, ec)) return read_png_frames(path, keep_frames);
#if !WAN22_HAVE_LIBAV
  throw_error(ErrorCode::kUnsupported, "cannot read '" + path + "': this wan22 build has no video "
                                       "decoder (configured with WAN22_WITH_LIBAV=OFF)");
#else
  init_av_logging();

  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (rc < 0) {
    throw_error(ErrorCode::kCorruptData, "cannot open video '" + path + "': " + av_error_text(rc));
  }
  std::unique_ptr<AVFormatContext, InputCloser> ic(raw);
  rc = avformat_find_stream_info(ic.get(), nullptr);
  if (rc < 0) {
    throw_error(ErrorCode::kCorruptData, "cannot read streams of '" + path + "': " + av_error_text(rc));
  }
  const AVCodec* codec = nullptr;
  const int si = av_find_best_stream(ic.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (si < 0) throw_error(ErrorCode::kCorruptData, "'" + path + "' has no video stream");
  if (codec == nullptr) throw_error(ErrorCode::kUnsupported, "no decoder for the video in '" + path + "'");
  AVStream* st = ic->streams[si];

  CodecContextPtr dec(avcodec_alloc_context3(codec));
  if (!dec) throw_error(ErrorCode::kOutOfMemory, "avcodec_alloc_context3 failed");
  avcodec_parameters_to_context(dec.get(), st->codecpar);
  dec->thread_count = resolve_threads(0);
  rc = avcodec_open2(dec.get(), codec, nullptr);
  if (rc < 0) {
    throw_error(ErrorCode::kUnsupported, "cannot open decoder " + std::string(codec->name) +
                                             " for '" + path + "': " + av_error_text(rc));
  }

  DecodedVideo out;
  VideoInfo& info = out.info;
  info.container = ic->iformat->name;
  info.codec = avcodec_get_name(st->codecpar->codec_id);
  info.width = st->codecpar->width;
  info.height = st->codecpar->height;
  AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  info.fps_num = fr.num;
  info.fps_den = fr.den > 0 ? fr.den : 1;
  copy_tags(ic->metadata, info.metadata);
  copy_tags(st->metadata, info.metadata);

  FrameConverter conv;
  FramePtr frame = alloc_frame();
  PacketPtr pkt = alloc_packet();
  auto receive_all = [&]() {
    for (;;) {
      int r = avcodec_receive_frame(dec.get(), frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) {
        throw_error(ErrorCode::kCorruptData, "error decoding '" + path + "': " + av_error_text(r));
      }
      if (info.pix_fmt.empty()) {
        const char* n = av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format));
        info.pix_fmt = n ? n : "unknown";
      }
      if (keep_frames) out.frames.push_back(conv.to_rgb(frame.get()));
      ++info.frame_count;
      av_frame_unref(frame.get());
    }
  };
  for (;;) {
    rc = av_read_frame(ic.get(), pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw_error(ErrorCode::kCorruptData, "error reading '" + path + "': " + av_error_text(rc));
    if (pkt->stream_index == si) {
      rc = avcodec_send_packet(dec.get(), pkt.get());
      av_packet_unref(pkt.get());
      if (rc < 0 && rc != AVERROR(EAGAIN)) {
        throw_error(ErrorCode::kCorruptData, "error decoding '" + path + "': " + av_error_text(rc));
      }
      receive_all();
    } else {
      av_packet_unref(pkt.get());
    }
  }
  avcodec_send_packet(dec.get(), nullptr);
  receive_all();
  if (info.frame_count == 0) throw_error(ErrorCode::kCorruptData, "'" + path + "' holds no decodable frames");
  return out;
#endif
}

}  // namespace wan22::media
