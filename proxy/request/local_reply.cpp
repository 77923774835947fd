// Responses mapigate writes itself.
#include "proxy/request/local_reply.hpp"

#include <cstdio>
#include <ctime>
#include <string>

namespace proxy {

namespace {

/// The IMF-fixdate of the current second ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 §5.6.7),
/// formatted once per second and thread (no locale: the names are the protocol's).
std::string_view http_date_now() noexcept {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached = -1;
  thread_local char text[32];
  thread_local std::size_t size = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    const int n = std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    size = n > 0 ? std::size_t(n) : 0;
    cached = now;
  }
  return {text, size};
}

}  // namespace

http::response<http::string_body> make_reply(int status, std::string_view content_type,
                                             std::string body, bool close) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::date, http_date_now());  // RFC 9110 §6.6.1: an origin's answers carry it
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.keep_alive(!close);
  res.prepare_payload();
  return res;
}

http::response<http::string_body> make_error(int status, std::string_view reason, bool close) {
  std::string body = std::to_string(status);
  body += ' ';
  body += http::obsolete_reason(static_cast<http::status>(status));
  body += ": ";
  body += reason;
  body += '\n';
  return make_reply(status, "text/plain; charset=utf-8", std::move(body), close);
}

http::response<http::string_body> make_mapi_error(int code, std::string_view request_type,
                                                  std::string_view request_id,
                                                  std::string_view reason, bool close) {
  std::string body = "<html><head><title>MAPI over HTTP error</title></head><body>X-ResponseCode ";
  body += std::to_string(code);
  body += ": ";
  for (char c : reason) {  // static text today; escaped anyway, it is HTML
    if (c == '<')
      body += "&lt;";
    else if (c == '>')
      body += "&gt;";
    else if (c == '&')
      body += "&amp;";
    else
      body += c;
  }
  body += "</body></html>";
  auto res = make_reply(200, "text/html", std::move(body), close);
  if (!request_type.empty()) res.set("X-RequestType", request_type);
  if (!request_id.empty()) res.set("X-RequestId", request_id);
  res.set("X-ResponseCode", std::to_string(code));
  return res;
}

}  // namespace proxy
