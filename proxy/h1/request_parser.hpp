// The HTTP/1.1 request parser (Beast's, its fields in the request's arena) and the body its
// head declares.
#pragma once

#include "proxy/io/field_arena.hpp"
#include "proxy/io/net.hpp"
#include "proxy/request/body_framing.hpp"

namespace proxy {

using request_parser = http::request_parser<http::buffer_body, field_allocator>;

/// The body an HTTP/1.1 request's head declares (parsed by `p`): chunked, a Content-Length, or
/// none (RFC 9112 §6.3: a request without either has no body).
inline body_framing h1_body_framing(const request_parser& p) noexcept {
  if (p.chunked()) return body_framing::undeclared();
  if (const auto n = p.content_length()) return body_framing::of_length(*n);
  return body_framing::no_body();
}

}  // namespace proxy
