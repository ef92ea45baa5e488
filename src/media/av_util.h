// Internal: small RAII and error helpers around libavformat / libavcodec / libswscale.
#pragma once
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace wan22::media::detail {

std::string av_error_text(int err);
// libav's own logging: silent (our errors carry the message) unless wan22's level is debug.
void init_av_logging();

struct AvFrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct AvPacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct AvCodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using FramePtr = std::unique_ptr<AVFrame, AvFrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, AvPacketFree>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, AvCodecContextFree>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFree>;

FramePtr alloc_frame();    // throws kOutOfMemory
PacketPtr alloc_packet();  // throws kOutOfMemory

}  // namespace wan22::media::detail
