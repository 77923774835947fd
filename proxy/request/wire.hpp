// HTTP/1.1 heads as they go on the wire, written into a byte buffer: the one writer of request
// heads towards backends (both codecs) and of response heads towards HTTP/1.1 clients.
#pragma once

#include <cstring>
#include <string_view>

#include "proxy/io/net.hpp"
#include "proxy/request/body_framing.hpp"

namespace proxy {

namespace wire_detail {
inline char* put(char* p, std::string_view s) noexcept {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
/// The bytes of every field as it goes on the wire, and of the empty line after them.
inline std::size_t fields_size(const relay_fields& h) noexcept {
  std::size_t n = 2;
  for (const auto& f : h)
    n += f.name_string().size() + 2 + f.value().size() + 2;
  return n;
}
inline char* put_fields(char* p, const relay_fields& h) noexcept {
  for (const auto& f : h) {
    p = put(p, f.name_string());
    p = put(p, ": ");
    p = put(p, f.value());
    p = put(p, "\r\n");
  }
  return put(p, "\r\n");
}
}  // namespace wire_detail

/// Whether `h`'s framing fields say exactly what `body` says: no Transfer-Encoding (mapigate
/// relays no transfer coding), and one Content-Length reading exactly `body.length` (digits
/// only), or, for no body, none or one reading 0. A body of unknown length never qualifies.
/// One pass in wire order by the fields' codes (beast codes every name as it is stored, in any
/// case): a search by name costs a walk of the fields' tree each.
inline bool frames_body(const http::request_header<relay_fields>& h, body_framing body) noexcept {
  if (body.k == body_framing::kind::unknown) return false;
  const relay_fields::value_type* length = nullptr;
  for (const auto& f : h) {
    if (f.name() == http::field::transfer_encoding) return false;
    if (f.name() != http::field::content_length) continue;
    if (length) return false;  // two of them
    length = &f;
  }
  if (!length) return body.k == body_framing::kind::none;
  const auto n = parse_content_length(length->value());
  return n && *n == (body.k == body_framing::kind::length ? body.length : 0);
}

/// Appends the request head `h` as it goes on the wire: the start line (always HTTP/1.1), then
/// every field as stored (name case and order kept), then the empty line; one reservation.
/// The one writer of request heads towards backends, for both codecs, and the last guard
/// against request smuggling: nothing is written, and false returned, unless the head frames
/// `body` explicitly (frames_body). A body that leaves without framing would be read by the
/// backend as the next request, on a connection that other clients' requests may use next.
[[nodiscard]] inline bool append_request_head(beast::flat_buffer& out,
                                              const http::request_header<relay_fields>& h,
                                              body_framing body) {
  using namespace wire_detail;
  if (!frames_body(h, body)) return false;
  constexpr std::string_view version = " HTTP/1.1\r\n";
  const std::size_t n =
      h.method_string().size() + 1 + h.target().size() + version.size() + fields_size(h);
  char* p = static_cast<char*>(out.prepare(n).data());
  p = put(p, h.method_string());
  p = put(p, " ");
  p = put(p, h.target());
  p = put(p, version);
  put_fields(p, h);
  out.commit(n);
  return true;
}

/// What a send reports when append_request_head refused to write the head: a bug upstream of
/// it (the body rule, refuse_framing, lets no such request through), answered 400 and never
/// retried on another backend.
inline error_code unframed_request_body() noexcept {
  return http::error::bad_content_length;
}

/// Appends the response head `h` as it goes on the wire: the status line (always HTTP/1.1),
/// every field as stored, the empty line. The fields are authoritative: nothing is added
/// (framing fields are the caller's). One reservation for the whole head.
inline void append_head(beast::flat_buffer& out, const http::response_header<relay_fields>& h) {
  using namespace wire_detail;
  const unsigned code = h.result_int() % 1000;
  char status[] = "HTTP/1.1 000 ";
  status[9] = char('0' + code / 100);
  status[10] = char('0' + code / 10 % 10);
  status[11] = char('0' + code % 10);
  const std::string_view line(status, sizeof status - 1);
  const std::string_view reason =
      h.reason().empty() ? http::obsolete_reason(h.result()) : h.reason();
  const std::size_t n = line.size() + reason.size() + 2 + fields_size(h);
  char* p = static_cast<char*>(out.prepare(n).data());
  p = put(p, line);
  p = put(p, reason);
  p = put(p, "\r\n");
  put_fields(p, h);
  out.commit(n);
}

}  // namespace proxy
