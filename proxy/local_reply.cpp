// Responses mapigate writes itself.
#include "proxy/local_reply.hpp"

#include <string>

namespace proxy {

http::response<http::string_body> make_reply(int status, std::string_view content_type,
                                             std::string body, bool close) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
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
