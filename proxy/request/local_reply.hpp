// Responses mapigate writes itself: errors, the health check, 100 Continue.
#pragma once

#include <memory>
#include <utility>

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

/// A reply on the heap. A coroutine that awaits a call taking a response by value keeps a slot
/// for that response in its frame for its whole life (GCC gives each object alive across a
/// suspension point a slot of its own, on every path): a request holding a long-poll would
/// carry one per answer it could have given. A boxed reply costs the frame one pointer.
using boxed_reply = std::unique_ptr<http::response<http::string_body>>;

/// The response `make()` returns, boxed. Call it as box([&] { return make_error(...); }): the
/// response is built in this function's frame, never in the awaiting coroutine's.
template <class Make>
boxed_reply box(Make&& make) {
  return std::make_unique<http::response<http::string_body>>(std::forward<Make>(make)());
}

}  // namespace proxy
