// The HTTP/1.1 side of a client connection: the request loop, local answers, and forwarding
// one request to a backend.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "metrics/labels.hpp"
#include "proxy/h1/request_parser.hpp"
#include "proxy/io/lazy_io.hpp"
#include "proxy/io/net.hpp"
#include "proxy/request/body_framing.hpp"
#include "proxy/request/context.hpp"
#include "routing/route_table.hpp"

namespace proxy {

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

/// The HTTP/1.1 request loop of one connection (after the TLS handshake, if any). Returns when
/// the connection should close: true when mapigate refused a request whose remaining bytes the
/// client may still be sending (close lingering). Defined for plain_stream and tls_stream.
template <class Stream>
awaitable<bool> serve_h1(Stream& client, conn_ctx& cx);

}  // namespace proxy
