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

/// The HTTP/1.1 request loop of one connection (after the TLS handshake, if any). Returns when
/// the connection should close: true when mapigate refused a request whose remaining bytes the
/// client may still be sending (close lingering). Defined for tcp_conn and tls_conn.
template <class Stream>
awaitable<bool> serve_h1(Stream& client, conn_ctx& conn);

}  // namespace proxy
