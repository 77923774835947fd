// Responses mapigate writes itself: errors, the health check, 100 Continue.
#pragma once

#include <string_view>

#include "proxy/io/net.hpp"

namespace proxy {

/// A complete small response, with Date (the current second) and Cache-Control: no-store.
/// `close` adds Connection: close.
http::response<http::string_body> make_reply(int status, std::string_view content_type,
                                             std::string body, bool close);

/// An error page for `status` with a one-line explanation (plain text, no markup from input).
http::response<http::string_body> make_error(int status, std::string_view reason, bool close);

/// A refusal as MAPI/HTTP expresses it ([MS-OXCMAPIHTTP] 2.2.3.3.3): HTTP 200, text/html,
/// X-ResponseCode `code`, the request's X-RequestType and X-RequestId echoed.
http::response<http::string_body> make_mapi_error(int code, std::string_view request_type,
                                                  std::string_view request_id,
                                                  std::string_view reason, bool close);

}  // namespace proxy
