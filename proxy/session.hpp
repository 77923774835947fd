// One client connection: TLS handshake, then the HTTP/1.1 request loop.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "metrics/labels.hpp"
#include "proxy/body_framing.hpp"
#include "proxy/net.hpp"
#include "proxy/request_trace.hpp"
#include "proxy/runtime.hpp"
#include "proxy/worker_state.hpp"
#include "routing/route_table.hpp"

namespace proxy {

/// Backend connections that belong to one client connection alone, because NTLM or Negotiate
/// authenticated them: never pooled, never used for another client, closed with this one.
/// Keeps the worker's pinned-connection gauge exact.
class pinned_connections {
 public:
  explicit pinned_connections(std::atomic<std::size_t>& gauge) : gauge_(gauge) {}
  ~pinned_connections() { gauge_.fetch_sub(conns_.size(), std::memory_order_relaxed); }
  pinned_connections(const pinned_connections&) = delete;
  pinned_connections& operator=(const pinned_connections&) = delete;

  /// The connection pinned to backend `b`, moved out (null when none).
  upstream_ptr take(std::size_t b);
  /// Pins `c` (one per backend; a previous one for the same backend is closed).
  void put(upstream_ptr c);
  std::size_t size() const noexcept { return conns_.size(); }

 private:
  std::vector<upstream_ptr> conns_;
  std::atomic<std::size_t>& gauge_;
};

/// Per-connection facts every request on it needs. Lives in the connection's coroutine frame.
struct conn_ctx {
  runtime_ptr rt;  ///< the config this connection started with; kept alive until it ends
  worker_state& ws;
  std::size_t listener = 0;
  std::uint64_t id = 0;
  std::string client_ip;
  std::string sni;  ///< TLS server name the client sent (empty: none, or plain listener)
  bool tls = false;
  pinned_connections pinned{ws.pinned_connections};
  /// NTLM/Negotiate was seen on this connection: from now on every backend connection it uses
  /// is pinned (the client relies on connection-bound authentication).
  bool auth_bound = false;
  /// The scheme and user the connection authenticated with (NTLM authenticates the connection:
  /// later requests on it carry no Authorization field). For the HttpProxy log.
  std::string auth_type;
  std::string user;
  /// The request being served (null between requests): what it did, for its log record.
  request_trace* trace = nullptr;
};

/// Serves one accepted connection until it closes. Never throws for network outcomes. The caller
/// has reserved one slot of ws.process_connections for it; this releases it at the end.
/// Executor affinity: the worker that accepted `socket`.
awaitable<void> serve_connection(runtime_ptr rt, worker_state& ws, tcp::socket socket,
                                 std::size_t listener);

using request_parser = http::request_parser<http::buffer_body, field_allocator>;

/// The body an HTTP/1.1 request's head declares (parsed by `p`): chunked, a Content-Length, or
/// none (RFC 9112 §6.3: a request without either has no body).
inline body_framing h1_body_framing(const request_parser& p) noexcept {
  if (p.chunked()) return body_framing::undeclared();
  if (const auto n = p.content_length()) return body_framing::of_length(*n);
  return body_framing::no_body();
}

inline constexpr std::size_t small_leftover = 512;  ///< few enough bytes to copy out before a wait

/// Before a wait for more bytes: `buf`'s storage goes back to the worker's spares when it holds
/// no bytes; when it holds a few (a chunk's CRLF, half a head), a buffer of just those remains.
inline void shed_storage(worker_state& ws, beast::flat_buffer& buf) {
  if (buf.size() == 0) {
    give_spare(ws, buf);
  } else if (buf.size() <= small_leftover && buf.capacity() > 4 * small_leftover) {
    beast::flat_buffer rest;
    net::buffer_copy(rest.prepare(buf.size()), buf.data());
    rest.commit(buf.size());
    buf.consume(buf.size());
    give_spare(ws, buf);
    buf = std::move(rest);
  }
}

/// The wait a non-blocking read that found nothing asks for before it is tried again: for the
/// socket to turn readable (would_block), or writable (in_progress: OpenSSL must write first,
/// which the next try does). None after any other outcome.
inline std::optional<net::socket_base::wait_type> wait_before_retry(const error_code& ec) {
  if (ec == net::error::would_block) return net::socket_base::wait_read;
  if (ec == net::error::in_progress) return net::socket_base::wait_write;
  return std::nullopt;
}

/// One non-blocking read of what has arrived on `s` into `buf` (at most `max` bytes): the bytes
/// read, or `ec` set. When it found nothing (wait_before_retry), `buf`'s storage is shed
/// (shed_storage) for the wait the caller makes before trying again.
template <class Stream>
std::size_t read_arrived(Stream& s, beast::flat_buffer& buf, std::size_t max, worker_state& ws,
                         error_code& ec) {
  take_spare(ws, buf);
  const std::size_t n = s.try_read_some(buf.prepare(max), ec);
  if (!ec)
    buf.commit(n);
  else if (wait_before_retry(ec))
    shed_storage(ws, buf);
  return n;
}

/// Reads what arrives on `s` into `buf` (at most `max` bytes) without holding memory while
/// nothing does: read_arrived, and while it finds nothing, a wait for the socket under the
/// stream's deadline. Where a wait can last minutes (an idle keep-alive connection, a
/// long-poll between PENDINGs) callers write this loop out in their own frame instead, so
/// that they hold no frame of this coroutine meanwhile.
template <class Stream>
awaitable<std::tuple<error_code, std::size_t>> read_some_lazily(Stream& s, beast::flat_buffer& buf,
                                                                std::size_t max, worker_state& ws) {
  error_code ec;
  std::size_t n = read_arrived(s, buf, max, ws, ec);
  while (const auto w = wait_before_retry(ec)) {
    std::tie(ec) = co_await s.async_wait(*w, use_nothrow);
    if (!ec) n = read_arrived(s, buf, max, ws, ec);
  }
  co_return std::tuple{ec, n};
}

/// Writes all of `bytes` to `s`. What the socket takes at once is written without starting an
/// asynchronous operation (usually all of it: a response fits the socket buffer), so nothing is
/// allocated, posted or resumed for it; only the rest waits for the socket, under the stream's
/// deadline. Returns the first failure and the bytes written.
template <class Stream>
awaitable<std::tuple<error_code, std::size_t>> write_all(Stream& s, net::const_buffer bytes) {
  std::size_t done = 0;
  error_code ec;
  while (done < bytes.size()) {
    const std::size_t n = s.try_write_some(bytes + done, ec);
    if (ec || n == 0) break;
    done += n;
  }
  if (done < bytes.size() &&
      (!ec || ec == net::error::would_block || ec == net::error::in_progress)) {
    auto [wec, wn] = co_await net::async_write(s, bytes + done, use_nothrow);
    co_return std::tuple{wec, done + wn};
  }
  co_return std::tuple{ec, done};
}

/// Re-arms the deadline of the next operation on `s` (Beast closes the stream when it passes).
template <class S>
void arm_deadline(S& s, std::chrono::milliseconds d) {
  beast::get_lowest_layer(s).expires_after(d);
}

/// Largest refused request body mapigate reads and throws away to keep the connection open
/// (a client retrying a 401 on the same connection, as NTLM needs). Larger ones close it.
inline constexpr std::size_t discard_limit = 64 * 1024;

/// Reads and discards the rest of the body of a request mapigate refused, under
/// timeouts.body_idle. Returns false (the connection must close) when the body is larger than
/// discard_limit, or the client fails to send it.
template <class Stream>
awaitable<bool> discard_body(Stream& client, beast::flat_buffer& cbuf, request_parser& p,
                             const conn_ctx& cx) {
  if (p.is_done()) co_return true;
  if (p.content_length().value_or(discard_limit + 1) > discard_limit) co_return false;
  std::array<char, 4096> scratch;
  while (!p.is_done()) {
    p.get().body().data = scratch.data();
    p.get().body().size = scratch.size();
    arm_deadline(client, cx.rt->cfg->timeouts.body_idle);
    auto [ec, n] = co_await http::async_read(client, cbuf, p, use_nothrow);
    if (ec && ec != http::error::need_buffer) co_return false;
  }
  co_return true;
}

/// Writes a response mapigate generated itself, under timeouts.client_write. Returns false when
/// the client is gone.
template <class Stream>
awaitable<bool> write_local(Stream& client, http::response<http::string_body> res,
                            const conn_ctx& cx) {
  const int status = res.result_int();
  std::optional<int> code;
  if (auto it = res.find("X-ResponseCode"); it != res.end())
    code = metrics::parse_mapi_code(it->value());
  arm_deadline(client, cx.rt->cfg->timeouts.client_write);
  const std::size_t body = res.body().size();
  auto [ec, n] = co_await http::async_write(client, res, use_nothrow);
  // ResponseBytes: the body's bytes, on both protocols (not the head, nor any framing).
  if (cx.trace)
    cx.trace->local_response(status, code, ec ? 0 : body, ec ? "ClientDisconnected" : "");
  co_return !ec;
}

/// write_local for the response `make()` returns. Not a coroutine: the response is built on this
/// stack frame and moves into write_local's, so the awaiting coroutine holds nothing of it. A
/// coroutine awaiting write_local(client, make_error(...), cx) itself keeps a slot for that
/// response in its own frame for its whole life (GCC gives each object alive across a suspension
/// point a slot of its own, on every path), so a request holding a long-poll would carry one per
/// refusal it could have written.
template <class Stream, class Make>
awaitable<bool> write_local_made(Stream& client, const conn_ctx& cx, Make&& make) {
  return write_local(client, std::forward<Make>(make)(), cx);
}

/// How a request left its client connection: it can carry the next one, it closes, or it
/// closes lingering (the client may still be sending what was refused: close_connection).
enum class request_end { next, close, linger };

/// Forwards one parsed request (head read, body not yet) to the backend its affinity token names,
/// or else the next in `d.order`, and streams the response back. Returns how the client
/// connection goes on (linger: answered before its body was read whole). Retries on the next
/// candidate only while not one byte of the request has been sent. If the client goes away while
/// the response is awaited or streamed, the backend connection is closed at once (never pooled).
/// Defined for plain_stream and tls_stream.
///
/// `parser` holds the request, its fields allocated from `arena`, which the response's fields
/// use too. A response that may be held long (a NotificationWait; any request off the MAPI
/// vdirs) is awaited and streamed holding neither: once the request is sent, `parser` is reset
/// and `arena` released, and the response's fields are on the heap only until its head is framed.
template <class Stream>
awaitable<request_end> forward_request(Stream& client, beast::flat_buffer& client_buf,
                                       std::optional<request_parser>& parser, field_arena& arena,
                                       const routing::decision& d, conn_ctx& cx);

}  // namespace proxy
