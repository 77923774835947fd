// PROXY protocol v1 (text) and v2 (binary) headers.
#include "routing/proxy_protocol.hpp"

#include <arpa/inet.h>

#include "routing/text.hpp"

namespace routing {
namespace {

using status = proxy_parse::status;

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_max = 107;  ///< the spec's worst case, CRLF included
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t v2_fixed = 16;

proxy_parse need(std::size_t n) {
  return {status::need_more, n, {}};
}
proxy_parse bad(std::string_view why) {
  return {status::invalid, 0, why};
}

/// A decimal port 0..65535 without sign or leading zeros (beyond "0").
bool v1_port(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s.front() == '0')) return false;
  unsigned v = 0;
  for (const char c : s) {
    if (!ascii_digit(c)) return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}

/// An address of the family the v1 line names, normalised through inet_pton/inet_ntop.
bool v1_address(std::string_view s, bool v6, std::string& out) {
  if (s.empty() || s.size() > 45) return false;
  const std::string text(s);
  unsigned char raw[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), raw) != 1) return false;
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, raw, buf, sizeof buf)) return false;
  out = buf;
  return true;
}

proxy_parse parse_v1(std::string_view bytes, proxy_header& out) {
  const auto end = bytes.substr(0, v1_max).find("\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() >= v1_max) return bad("PROXY v1 line longer than 107 bytes");
    return need(1);  // the line ends somewhere ahead: one byte at a time, never past it
  }
  std::string_view line = bytes.substr(v1_prefix.size(), end - v1_prefix.size());
  out = proxy_header{};
  out.length = end + 2;
  std::string_view field[5];
  std::size_t n = 0;
  while (!line.empty() && n < 6) {
    const auto sp = line.find(' ');
    if (n == 5) return bad("PROXY v1 line with too many fields");
    field[n++] = line.substr(0, sp);
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
    if (line.empty()) return bad("PROXY v1 line ends with a space");
  }
  if (n >= 1 && field[0] == "UNKNOWN") {  // whatever follows is ignored (spec 2.1)
    out.local = true;
    return {status::complete, 0, {}};
  }
  if (n != 5 || (field[0] != "TCP4" && field[0] != "TCP6"))
    return bad("PROXY v1 line is not TCP4/TCP6 with four fields");
  const bool v6 = field[0] == "TCP6";
  std::string destination;
  std::uint16_t dport = 0;
  if (!v1_address(field[1], v6, out.source) || !v1_address(field[2], v6, destination) ||
      !v1_port(field[3], out.source_port) || !v1_port(field[4], dport))
    return bad("PROXY v1 line with a malformed address or port");
  return {status::complete, 0, {}};
}

std::uint16_t be16(std::string_view b, std::size_t at) {
  return std::uint16_t((std::uint8_t(b[at]) << 8) | std::uint8_t(b[at + 1]));
}

proxy_parse parse_v2(std::string_view bytes, proxy_header& out) {
  if (bytes.size() < v2_fixed) return need(v2_fixed - bytes.size());
  const auto ver_cmd = std::uint8_t(bytes[12]);
  const auto family = std::uint8_t(bytes[13]);
  const std::size_t len = be16(bytes, 14);
  if ((ver_cmd & 0xf0) != 0x20) return bad("PROXY v2 header with another version");
  const auto command = ver_cmd & 0x0f;
  if (command > 1) return bad("PROXY v2 header with an unknown command");
  if (v2_fixed + len > proxy_header_max) return bad("PROXY v2 header longer than 1040 bytes");
  if (bytes.size() < v2_fixed + len) return need(v2_fixed + len - bytes.size());
  out = proxy_header{};
  out.length = v2_fixed + len;
  const auto body = bytes.substr(v2_fixed, len);
  std::size_t addresses = 0;
  if (command == 0) {
    // LOCAL: the balancer's own connection (a health check): the whole block is discarded,
    // address and TLVs alike (spec 2.2).
    out.local = true;
    return {status::complete, 0, {}};
  }
  {
    char buf[INET6_ADDRSTRLEN];
    switch (family) {
      case 0x11:  // TCP over IPv4
        addresses = 12;
        if (len < addresses) return bad("PROXY v2 IPv4 block truncated");
        if (!inet_ntop(AF_INET, body.data(), buf, sizeof buf)) return bad("PROXY v2 bad IPv4");
        out.source = buf;
        out.source_port = be16(body, 8);
        break;
      case 0x21:  // TCP over IPv6
        addresses = 36;
        if (len < addresses) return bad("PROXY v2 IPv6 block truncated");
        if (!inet_ntop(AF_INET6, body.data(), buf, sizeof buf)) return bad("PROXY v2 bad IPv6");
        out.source = buf;
        out.source_port = be16(body, 32);
        break;
      case 0x00:  // UNSPEC with PROXY: no address to use
        out.local = true;
        break;
      default:
        return bad("PROXY v2 header for a protocol other than TCP");
    }
  }
  // TLVs: type, 16-bit length, value; each inside the header.
  for (std::size_t at = addresses; at < len;) {
    if (len - at < 3) return bad("PROXY v2 TLV truncated");
    const auto type = std::uint8_t(body[at]);
    const std::size_t tlen = be16(body, at + 1);
    if (len - at - 3 < tlen) return bad("PROXY v2 TLV longer than the header");
    const auto value = body.substr(at + 3, tlen);
    if (type == 0x02) {  // PP2_TYPE_AUTHORITY: a host name
      if (value.empty() || value.size() > 255) return bad("PROXY v2 AUTHORITY of a bad length");
      for (const char c : value)
        if (!ascii_alnum(c) && c != '.' && c != '-' && c != '_')
          return bad("PROXY v2 bad AUTHORITY");
      out.authority = std::string(value);
    } else if (type == 0x20) {  // PP2_TYPE_SSL: client flags (1), verify (4), sub-TLVs
      if (value.size() < 5) return bad("PROXY v2 SSL TLV truncated");
      out.ssl = (std::uint8_t(value[0]) & 0x01) != 0;
    }
    at += 3 + tlen;
  }
  return {status::complete, 0, {}};
}

}  // namespace

proxy_parse parse_proxy_header(std::string_view bytes, proxy_versions allowed, proxy_header& out) {
  // Decide the version on as few bytes as tell them apart; never ask for more than the
  // shorter header could hold.
  const auto v1_ok = allowed != proxy_versions::v2;
  const auto v2_ok = allowed != proxy_versions::v1;
  const std::size_t have = bytes.size();
  const bool maybe_v1 = v1_ok && v1_prefix.substr(0, std::min(have, v1_prefix.size())) ==
                                     bytes.substr(0, std::min(have, v1_prefix.size()));
  const bool maybe_v2 = v2_ok && v2_signature.substr(0, std::min(have, v2_signature.size())) ==
                                     bytes.substr(0, std::min(have, v2_signature.size()));
  if (!maybe_v1 && !maybe_v2) return bad("no PROXY protocol header");
  if (maybe_v1 && have < v1_prefix.size()) return need(v1_prefix.size() - have);
  if (maybe_v1) return parse_v1(bytes, out);
  if (have < v2_signature.size()) return need(v2_signature.size() - have);
  return parse_v2(bytes, out);
}

}  // namespace routing
