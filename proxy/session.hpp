// One client connection: TLS handshake, then the HTTP/1.1 request loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/net.hpp"
#include "proxy/runtime.hpp"
#include "proxy/worker_state.hpp"
#include "routing/route_table.hpp"

namespace proxy {

/// Per-connection facts every request on it needs. Lives in the connection's coroutine frame.
struct conn_ctx {
  runtime_ptr rt;  ///< the config this connection started with; kept alive until it ends
  worker_state& ws;
  std::size_t listener = 0;
  std::uint64_t id = 0;
  std::string client_ip;
  std::string sni;  ///< TLS server name the client sent (empty: none, or plain listener)
  bool tls = false;
};

/// Serves one accepted connection until it closes. Never throws for network outcomes.
/// Executor affinity: the worker that accepted `socket`.
awaitable<void> serve_connection(runtime_ptr rt, worker_state& ws, tcp::socket socket,
                                 std::size_t listener);

using request_parser = http::request_parser<http::buffer_body>;

/// Re-arms the deadline of the next operation on `s` (Beast closes the stream when it passes).
template <class S>
void arm_deadline(S& s, std::chrono::milliseconds d) {
  beast::get_lowest_layer(s).expires_after(d);
}

/// Writes a response mapigate generated itself, under timeouts.client_write. Returns false when
/// the client is gone.
template <class Stream>
awaitable<bool> write_local(Stream& client, http::response<http::string_body> res,
                            const conn_ctx& cx) {
  arm_deadline(client, cx.rt->cfg->timeouts.client_write);
  auto [ec, n] = co_await http::async_write(client, res, use_nothrow);
  co_return !ec;
}

/// Forwards one parsed request (head read, body not yet) to a backend chosen from
/// `d.candidates` and streams the response back. Returns whether the client connection can
/// carry another request. Retries on the next candidate only while not one byte of the request
/// has been sent. If the client goes away while the response is awaited or streamed, the
/// backend connection is closed at once (never pooled). Defined for plain_stream and tls_stream.
template <class Stream>
awaitable<bool> forward_request(Stream& client, beast::flat_buffer& client_buf, request_parser& p,
                                const routing::decision& d, conn_ctx& cx);

}  // namespace proxy
