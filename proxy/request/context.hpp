// What every request on one client connection shares (conn_ctx), whichever protocol carries it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "proxy/io/net.hpp"
#include "proxy/request/trace.hpp"
#include "proxy/state/runtime.hpp"
#include "proxy/upstream/pinned.hpp"
#include "proxy/upstream/worker_state.hpp"
#include "routing/route_table.hpp"

namespace proxy {

/// Per-connection facts every request on it needs. Lives in the connection's session (on the
/// heap, owned by whichever coroutine or parked wait serves the connection).
struct conn_ctx {
  runtime_ptr rt;  ///< the config this connection started with; kept alive until it ends
  worker_state& worker;
  std::size_t listener = 0;
  std::uint64_t id = 0;
  std::string client_ip;
  std::string sni;  ///< TLS server name the client sent (empty: none, or plain listener)
  bool tls = false;
  pinned_connections pinned{worker.pinned_connections};
  /// NTLM/Negotiate was seen on this connection: from now on every backend connection it uses
  /// is pinned (the client relies on connection-bound authentication).
  bool auth_bound = false;
  /// The scheme and user the connection authenticated with (NTLM authenticates the connection:
  /// later requests on it carry no Authorization field). For the HttpProxy log.
  std::string auth_type;
  std::string user;
  /// The backend that sent this connection's pending NTLM challenge (a 401 answering a type
  /// 1), in runtime `challenger_rt`: the type 3 that answers it must reach the same server,
  /// whatever its own anchor says (Autodiscover's legs: the first has no body to anchor it).
  std::optional<std::size_t> challenger;
  const void* challenger_rt = nullptr;
};

/// One request, from its parsed (or refused) head to the last byte of its answer, on either
/// protocol: the connection it came on, what it did (the trace: started here, finished when
/// this ends, however the request ended: its HttpProxy record and metrics) and what routing
/// decided. Lives in the frame of the coroutine that serves the request, and only as long.
struct request_ctx {
  conn_ctx& conn;
  request_trace trace;
  routing::decision decision;

  explicit request_ctx(conn_ctx& c);
  ~request_ctx();
  request_ctx(const request_ctx&) = delete;
  request_ctx& operator=(const request_ctx&) = delete;

  /// The request body's and the backend's idle deadlines: the vdir's idle_timeout where it has
  /// one (Outlook Anywhere, ActiveSync), else timeouts.body_idle / upstream_idle.
  config::duration body_idle() const noexcept;
  config::duration upstream_idle() const noexcept;
};

/// The HTTP/1.1 form in which both codecs hold a request head (HTTP/2's pseudo-headers become
/// its start line and Host). Its fields live in the request's field_arena.
using request_message = http::request<http::buffer_body, relay_fields>;

/// The completion handler of a coroutine spawned to serve a peer (a connection, an HTTP/2
/// stream): an exception that escapes it is a bug, never a network outcome (those are
/// error_codes). It is logged with what it said and counted
/// (mapigate_session_exceptions_total); the worker carries on. Any exception, not only
/// std::exception: one left uncaught would end the process.
struct on_coroutine_exit {
  runtime_ptr rt;    ///< kept for the counter: the coroutine may outlive a reload
  bool stream;       ///< an HTTP/2 stream's coroutine, else a connection's
  std::uint64_t id;  ///< the connection's (stream), else the worker's
  void operator()(std::exception_ptr e) const noexcept;
};

/// Adds one to a gauge for as long as it lives (null: nothing).
struct gauge_guard {
  std::atomic<std::size_t>* n;
  explicit gauge_guard(std::atomic<std::size_t>* g) : n(g) {
    if (n) ++*n;
  }
  ~gauge_guard() {
    if (n) --*n;
  }
  gauge_guard(const gauge_guard&) = delete;
  gauge_guard& operator=(const gauge_guard&) = delete;
};

}  // namespace proxy
