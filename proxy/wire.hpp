// Bytes on their way to a peer: a worker's spare buffers, borrowed while bytes are in them, and
// HTTP/1.1 heads written into them as they go on the wire. Worker-local; proxy-internal.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

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

/// Appends every field as stored (name case and order kept), then the empty line.
inline void append_fields(beast::flat_buffer& out, const http::fields& h) {
  for (const auto& f : h) {
    append(out, f.name_string());
    append(out, ": ");
    append(out, f.value());
    append(out, "\r\n");
  }
  append(out, "\r\n");
}
/// Appends `h` as it goes on the wire: the start line (always HTTP/1.1), then the fields. The
/// fields are authoritative: nothing is added (framing fields are the caller's).
inline void append_head(beast::flat_buffer& out, const http::request_header<>& h) {
  append(out, h.method_string());
  append(out, " ");
  append(out, h.target());
  append(out, " HTTP/1.1\r\n");
  append_fields(out, h);
}
inline void append_head(beast::flat_buffer& out, const http::response_header<>& h) {
  char status[16];
  const int n = std::snprintf(status, sizeof status, "HTTP/1.1 %03u ", h.result_int() % 1000);
  append(out, {status, static_cast<std::size_t>(n)});
  append(out, h.reason().empty() ? http::obsolete_reason(h.result()) : h.reason());
  append(out, "\r\n");
  append_fields(out, h);
}

using upstream_parser = http::response_parser<http::buffer_body>;

/// Reads the backend's final response head into `rp` (a fresh parser each time), skipping
/// interim 1xx responses, each under `idle`. While the backend has not answered (a long-poll:
/// minutes) the connection holds no buffer. The body is left to the caller: streamed, never
/// buffered, so the parser has no body limit.
template <class Up>
awaitable<error_code> read_final_head(Up& up, upstream_conn& uc, std::optional<upstream_parser>& rp,
                                      std::chrono::milliseconds idle, worker_state& ws) {
  for (;;) {
    rp.emplace();
    rp->header_limit(upstream_header_limit);
    rp->body_limit(boost::none);
    arm_deadline(up, idle);
    if (uc.buffer.size() == 0) {
      auto [ec, n] = co_await read_some_lazily(up, uc.buffer, relay_chunk, ws);
      if (ec) co_return ec;
    }
    auto [ec, n] = co_await http::async_read_header(up, uc.buffer, *rp, use_nothrow);
    if (ec) co_return ec;
    const unsigned code = rp->get().result_int();
    if (code < 100 || code >= 200 || code == 101) co_return error_code{};
  }
}

}  // namespace proxy
