// What every request on one client connection shares (conn_ctx), whichever protocol carries it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/request/trace.hpp"
#include "proxy/state/runtime.hpp"
#include "proxy/upstream/pinned.hpp"
#include "proxy/upstream/worker_state.hpp"

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

}  // namespace proxy
