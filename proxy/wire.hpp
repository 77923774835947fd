// Bytes on their way to a peer: a worker's spare buffers, borrowed while bytes are in them, and
// HTTP/1.1 heads written into them as they go on the wire. Worker-local; proxy-internal.
#pragma once

#include <cstdio>
#include <cstring>
#include <string_view>

#include "proxy/net.hpp"
#include "proxy/worker_state.hpp"

namespace proxy {

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

}  // namespace proxy
