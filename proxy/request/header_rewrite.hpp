// Request and response header rewriting between client and backend (HTTP/1.1).
#pragma once

#include <string_view>

#include "proxy/io/net.hpp"

namespace proxy {

/// Removes hop-by-hop fields (RFC 9110 §7.6.1: Connection and every field it names,
/// Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Transfer-Encoding, Proxy-Authorization)
/// and Expect (answered by mapigate itself). Every other field keeps its name, case and order.
void strip_hop_by_hop(relay_fields& f, bool is_request);

/// Appends `client_ip` to X-Forwarded-For (creating it when absent).
void append_forwarded_for(relay_fields& f, std::string_view client_ip);

}  // namespace proxy
