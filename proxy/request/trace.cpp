// request_trace helpers.
#include "proxy/request/trace.hpp"

#include "accesslog/writer.hpp"
#include "metrics/registry.hpp"

namespace proxy {

void request_trace::local_response(int status, std::optional<int> x_response_code,
                                   std::uint64_t bytes, std::string_view error) {
  responded = true;
  rec.http_status = status;
  rec.response_bytes += bytes;
  if (x_response_code) {
    mapi_code = x_response_code;
    add_info("X-ResponseCode", std::to_string(*x_response_code));
  }
  if (!error.empty()) add_error(error);
}

void request_trace::add_error(std::string_view e) {
  if (!rec.generic_errors.empty()) rec.generic_errors += "; ";
  rec.generic_errors += e;
}

void request_trace::add_info(std::string key, std::string value) {
  // A proxied request gets two to four (Affinity, Route, then maybe X-ResponseCode, Http2,
  // Pinned): one allocation for all of them rather than one per growth.
  if (rec.generic_info.capacity() == 0) rec.generic_info.reserve(4);
  rec.generic_info.emplace_back(std::move(key), std::move(value));
}

std::optional<std::chrono::milliseconds> request_trace::since(clock::time_point a,
                                                              clock::time_point b) {
  if (b < a) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
}

void request_trace::finish(const metrics::handles& m, accesslog::writer* log) {
  const auto total = clock::now() - start;
  rec.total_request_time = std::chrono::duration_cast<std::chrono::milliseconds>(total);
  if (!responded) {
    rec.http_status = 0;
    add_error("NoResponseSent");
  }
  metrics::request_sample s;
  s.ns = ns;
  s.vdir = vdir;
  s.request_type = request_type;
  s.backend = backend;
  s.http_status = responded ? rec.http_status : 0;
  s.seconds = std::chrono::duration<double>(total).count();
  if (mapi) s.mapi_code = mapi_code;
  s.outcome = outcome;
  s.auth_step = auth_step;
  s.request_bytes = rec.request_bytes;
  s.response_bytes = rec.response_bytes;
  m.request(s);
  if (log) log->submit(std::move(rec));
}

}  // namespace proxy
