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

}  // namespace proxy
