#if WAN22_HAVE_LIBAV
#include "media/av_util.h"

#include <mutex>

#include "core/log.h"
#include "core/status.h"

namespace wan22::media::detail {

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(err, buf, sizeof(buf)) < 0) return "error " + std::to_string(err);
  return buf;
}

void init_av_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(log_level() <= LogLevel::kDebug ? AV_LOG_INFO : AV_LOG_FATAL);
  });
}

FramePtr alloc_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw_error(ErrorCode::kOutOfMemory, "av_frame_alloc failed");
  return f;
}

PacketPtr alloc_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw_error(ErrorCode::kOutOfMemory, "av_packet_alloc failed");
  return p;
}

}  // namespace wan22::media::detail
#endif  // WAN22_HAVE_LIBAV
