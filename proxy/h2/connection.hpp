// The HTTP/2 front end of one TLS connection (ALPN "h2"): streams relayed to backends over
// HTTP/1.1, through the same routing, policy, affinity, logging and metrics as HTTP/1.1.
#pragma once

#include "proxy/request/context.hpp"

namespace proxy {

/// Serves `client` (TLS, ALPN h2 negotiated) until the connection ends: the client closes,
/// a protocol error or flood ends the session (GOAWAY), the connection idles for
/// timeouts.keepalive_idle without streams, a write stalls for timeouts.client_write, or the
/// worker drains or reloads (GOAWAY, open streams complete on the runtime they started with).
/// NTLM/Negotiate requests are reset with HTTP_1_1_REQUIRED, as Windows' own HTTP stack does:
/// connection-bound authentication cannot work on a multiplexed connection. Returns once every
/// stream coroutine has finished and the connection has nothing more to read or write: true when
/// it ended on a connection error (GOAWAY with an error code sent; logged and counted), which the
/// caller closes at once, after a short linger.
awaitable<bool> serve_h2(tls_conn& client, conn_ctx& conn);

}  // namespace proxy
