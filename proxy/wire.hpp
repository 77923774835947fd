// Bytes on their way to a peer: a worker's spare buffers, borrowed while bytes are in them, and
// HTTP/1.1 heads written into them as they go on the wire. Worker-local; proxy-internal.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "proxy/body_framing.hpp"
#include "proxy/net.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream.hpp"
#include "proxy/worker_state.hpp"

namespace proxy {

inline constexpr std::size_t relay_chunk = 16 * 1024;  ///< largest piece read from a peer at once
inline constexpr std::size_t upstream_header_limit = 64 * 1024;  ///< a backend's response head

/// A worker's spare buffer, borrowed for one framing-and-write step and handed back empty.
/// Held only while bytes are in it, so a long-poll waiting for its backend holds none.
class wire_lease {
 public:
  explicit wire_lease(worker_state& ws) : ws_(ws) { take_spare(ws_, buf_); }
  ~wire_lease() { give_spare(ws_, buf_); }
  wire_lease(const wire_lease&) = delete;
  wire_lease& operator=(const wire_lease&) = delete;
  beast::flat_buffer& operator*() noexcept { return buf_; }

 private:
  worker_state& ws_;
  beast::flat_buffer buf_;
};

/// Appends the bytes of `s` to `b`.
inline void append(beast::flat_buffer& b, std::string_view s) {
  const auto m = b.prepare(s.size());
  std::memcpy(m.data(), s.data(), s.size());
  b.commit(s.size());
}

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
inline bool frames_body(const http::request_header<relay_fields>& h, body_framing body) noexcept {
  if (body.k == body_framing::kind::unknown) return false;
  if (h.find(http::field::transfer_encoding) != h.end()) return false;
  const auto cl = h.find(http::field::content_length);
  if (cl == h.end()) return body.k == body_framing::kind::none;
  if (h.count(http::field::content_length) != 1) return false;
  const auto n = parse_content_length(cl->value());
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

using upstream_parser = http::response_parser<http::buffer_body, field_allocator>;

/// Reads the backend's final response head into `rp`, skipping interim 1xx responses, each
/// under `idle`. A fresh parser for each head: the first keeps its fields in `fields` (the
/// request's arena), later ones on the heap, so that a backend sending 1xx heads without end
/// cannot grow the arena. While the backend has not answered (a long-poll: minutes) the
/// connection holds no buffer. Bytes already read are parsed in place, without an
/// asynchronous operation. The body is left to the caller (in uc.buffer, and on the wire):
/// streamed, never buffered, so the parser has no body limit. Errors as http::async_read_header
/// reports them: end_of_stream when the backend closed before sending a byte, partial_message
/// when it closed in the middle of a head. Call it once the request is sent: the answer cannot
/// have arrived yet, so it first waits for the socket instead of trying a read that would find
/// nothing (one system call per request fewer).
template <class Up>
awaitable<error_code> read_final_head(Up& up, upstream_conn& uc, std::optional<upstream_parser>& rp,
                                      std::chrono::milliseconds idle, worker_state& ws,
                                      field_allocator fields) {
  if (uc.buffer.size() == 0 && !up.holds_unread()) {
    arm_deadline(up, idle);
    give_spare(ws, uc.buffer);
    auto [ec] = co_await up.async_wait_readable(use_nothrow);
    if (ec) co_return ec;
  }
  for (bool first = true;; first = false) {
    if (first)
      rp.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(fields));
    else
      rp.emplace();
    rp->header_limit(upstream_header_limit);
    rp->body_limit(boost::none);
    arm_deadline(up, idle);
    while (!rp->is_header_done()) {
      if (uc.buffer.size() > 0) {
        error_code ec;
        const std::size_t used = rp->put(uc.buffer.data(), ec);
        uc.buffer.consume(used);
        if (ec && ec != http::error::need_more) co_return ec;
        if (!ec && used > 0) continue;  // the head is complete, or the start line was
      }
      auto [ec, n] = co_await read_some_lazily(up, uc.buffer, relay_chunk, ws);
      if (ec == net::error::eof) {
        if (!rp->got_some()) co_return http::error::end_of_stream;
        error_code eec;
        rp->put_eof(eec);
        co_return eec ? eec : error_code(http::error::partial_message);
      }
      if (ec) co_return ec;
    }
    const unsigned code = rp->get().result_int();
    if (code < 100 || code >= 200 || code == 101) co_return error_code{};
  }
}

}  // namespace proxy
