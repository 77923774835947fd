// One accepted client connection: TLS handshake with SNI, the protocol ALPN chose (HTTP/1.1 or
// HTTP/2), and the way it closes.
#pragma once

#include <cstddef>

#include "proxy/io/net.hpp"
#include "proxy/state/runtime.hpp"
#include "proxy/upstream/worker_state.hpp"

namespace proxy {

/// Serves one accepted connection until it closes. Never throws for network outcomes. The caller
/// has reserved one slot of worker.process_connections for it; this releases it at the end.
/// Executor affinity: the worker that accepted `socket`.
awaitable<void> serve_connection(runtime_ptr rt, worker_state& worker, tcp::socket socket,
                                 std::size_t listener);

}  // namespace proxy
