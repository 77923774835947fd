// The HTTP/1.1 side of a client connection: the request loop.
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

/// How serve_h1 returned: the connection closes (lingering after a refusal whose remaining
/// bytes the client may still be sending), or it waits for its next request (park).
enum class h1_end { close, linger, park };

/// Where a connection's request loop stands between two calls of serve_h1. A connection
/// waiting for its next request (or its first) is parked: serve_h1 returns h1_end::park, the
/// caller waits for the socket (`wait`) holding no coroutine frame, and calls serve_h1 again
/// with what the wait reported (`woke`). An idle keep-alive connection then costs its session
/// and one socket wait, not the frames of the coroutines that serve it (about 1.7 KiB).
struct h1_loop {
  std::size_t served = 0;       ///< requests served on the connection so far
  int waits_first = 0;          ///< requests still to wait for before trying a read
  bool drain_deadline = false;  ///< the current idle wait is under drain_idle_window
  net::socket_base::wait_type wait = net::socket_base::wait_read;  ///< after park: wait for
  std::optional<error_code> woke;  ///< set by the caller's wait before serve_h1 runs again
};

/// The HTTP/1.1 request loop of one connection (after the TLS handshake, if any), until it
/// closes or parks. Defined for tcp_conn and tls_conn. Before it returns h1_end::park, the
/// connection is in worker.idle unless the drain's deadline applies (the caller's wait must
/// then be an async_wait on `client`, which draining cancels); the next call takes it out.
template <class Stream>
awaitable<h1_end> serve_h1(Stream& client, conn_ctx& conn, h1_loop& loop);

}  // namespace proxy
