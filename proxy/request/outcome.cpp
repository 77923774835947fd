// How a request ended: one table of words and levels.
#include "proxy/request/outcome.hpp"

#include <string>

namespace proxy {

outcome_words words_for(request_outcome o) noexcept {
  using enum request_outcome;
  switch (o) {
    case completed:
    case refused:  // the refusal wrote its own reason and line
    case health_check:
    case count:
      break;
    case http11_required:
      return {"HTTP_1_1_REQUIRED", log_level::debug};
    case session_backend_down:
      return {"SessionBackendDown", log_level::info};
    case no_backend_reachable:
      return {"NoBackendReachable", log_level::warn};
    case unframed_request_body:
      return {"UnframedRequestBody", log_level::error};
    case backend_failed_mid_request:
      return {"BackendFailedMidRequest", log_level::warn};
    case backend_timeout:
      return {"BackendTimeout", log_level::warn};
    case backend_error:
      return {"BackendError", log_level::warn};
    case backend_failed_mid_response:
      return {"BackendFailedMidResponse", log_level::warn};
    case client_disconnected:
      return {"ClientDisconnected", log_level::debug};
    case client_timeout:
      return {"ClientTimeout", log_level::info};
  }
  return {"", std::nullopt};
}

void end_request(request_ctx& rq, request_outcome o, std::string_view detail) {
  rq.trace.outcome = o;
  const auto w = words_for(o);
  if (w.generic_error.empty()) return;
  if (detail.empty())
    rq.trace.add_error(w.generic_error);
  else
    rq.trace.add_error(std::string(w.generic_error) + ": " + std::string(detail));
  if (w.level)
    log(*w.level, "c", rq.conn.id, " ", rq.conn.client_ip, " ", rq.trace.rec.method, " ",
        rq.trace.rec.url_stem, " ", w.generic_error, detail.empty() ? "" : ": ", detail);
}

}  // namespace proxy
