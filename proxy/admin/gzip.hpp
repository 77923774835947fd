// Response compression for the admin listener (a /metrics page is 100+ KiB of text and
// compresses about tenfold; Prometheus asks for gzip). zlib does the work. Asio-free.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace proxy {

/// True when an Accept-Encoding field value (RFC 9110 §12.5.3) accepts gzip: "gzip",
/// "x-gzip" or "*" with a q-value above 0, unless "gzip" itself is listed with q=0.
bool accepts_gzip(std::string_view accept_encoding);

/// `body` as a gzip member (RFC 1952); nullopt if zlib fails (the caller sends it plain).
std::optional<std::string> gzip(std::string_view body);

}  // namespace proxy
