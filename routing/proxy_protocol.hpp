// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that an L4 balancer sends before
// the client's bytes: the client's real address. Untrusted input until the listener's
// trusted_sources said otherwise, and even then parsed strictly: every length is checked, TLVs
// are walked but only AUTHORITY and SSL are read. Pure; safe on any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace routing {

enum class proxy_versions { v1, v2, any };

/// What the header says.
struct proxy_header {
  /// v2 LOCAL or v1 UNKNOWN: the balancer's own connection (a health check); keep the peer.
  bool local = false;
  std::string source;  ///< the client's address, as text ("192.0.2.7", "2001:db8::7")
  std::uint16_t source_port = 0;
  std::optional<std::string> authority;  ///< v2 PP2_TYPE_AUTHORITY (SNI the balancer saw)
  bool ssl = false;                      ///< v2 PP2_TYPE_SSL: the client used TLS to the balancer
  std::size_t length = 0;                ///< bytes of the header: what to consume
};

struct proxy_parse {
  enum class status { complete, need_more, invalid } st = status::invalid;
  std::size_t want = 0;  ///< need_more: at least this many more bytes (never past the header)
  std::string_view why;  ///< invalid: static text for the log and the metric
};

/// The most bytes a header may take: v1's 107, v2's 16 + 1024 (longer TLV areas are refused).
inline constexpr std::size_t proxy_header_max = 16 + 1024;

/// Parses the header at the start of `bytes` (which may hold less, or more: what follows is the
/// client's data). need_more says how many bytes to read next without reading past the header;
/// a caller reads exactly that many and calls again.
proxy_parse parse_proxy_header(std::string_view bytes, proxy_versions allowed, proxy_header& out);

}  // namespace routing
