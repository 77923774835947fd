// PROXY protocol headers (v1 text, v2 binary): table tests, and reading them the way the proxy
// does, never a byte past the header.
#include "routing/proxy_protocol.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

using st = proxy_parse::status;

std::string v2(std::uint8_t ver_cmd, std::uint8_t family, const std::string& body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += char(ver_cmd);
  h += char(family);
  h += char(body.size() >> 8);
  h += char(body.size() & 0xff);
  return h + body;
}

std::string ipv4_block(const char a[4], std::uint16_t sport) {
  std::string b(a, 4);
  b += std::string("\x0a\x00\x00\x05", 4);  // destination 10.0.0.5
  b += char(sport >> 8);
  b += char(sport & 0xff);
  b += std::string("\x01\xbb", 2);  // 443
  return b;
}

std::string tlv(std::uint8_t type, const std::string& value) {
  std::string t(1, char(type));
  t += char(value.size() >> 8);
  t += char(value.size() & 0xff);
  return t + value;
}

/// Reads `wire` as serve_connection does: exactly `want` more bytes each time.
proxy_parse read_like_the_proxy(const std::string& wire, proxy_versions v, proxy_header& out,
                                std::size_t& consumed) {
  consumed = 0;
  for (;;) {
    const auto r = parse_proxy_header(std::string_view(wire).substr(0, consumed), v, out);
    if (r.st != st::need_more) return r;
    EXPECT_GT(r.want, 0u);
    if (consumed + r.want > wire.size()) return {st::need_more, r.want, {}};
    consumed += r.want;
  }
}

TEST(ProxyProtocol, Version1) {
  struct row {
    const char* name;
    std::string line;
    st status;
    const char* source;
    std::uint16_t port;
    bool local;
  };
  const std::vector<row> rows = {
      {"tcp4", "PROXY TCP4 192.0.2.7 10.0.0.5 51000 443\r\n", st::complete, "192.0.2.7", 51000,
       false},
      {"tcp6", "PROXY TCP6 2001:db8::7 2001:db8::5 51000 443\r\n", st::complete, "2001:db8::7",
       51000, false},
      {"unknown", "PROXY UNKNOWN\r\n", st::complete, "", 0, true},
      {"unknown with fields", "PROXY UNKNOWN 1 2 3 4\r\n", st::complete, "", 0, true},
      {"family mismatch", "PROXY TCP4 2001:db8::7 10.0.0.5 1 2\r\n", st::invalid, "", 0, false},
      {"bad port", "PROXY TCP4 192.0.2.7 10.0.0.5 65536 443\r\n", st::invalid, "", 0, false},
      {"leading zero", "PROXY TCP4 192.0.2.7 10.0.0.5 0443 443\r\n", st::invalid, "", 0, false},
      {"missing field", "PROXY TCP4 192.0.2.7 10.0.0.5 51000\r\n", st::invalid, "", 0, false},
      {"extra field", "PROXY TCP4 192.0.2.7 10.0.0.5 1 2 3\r\n", st::invalid, "", 0, false},
      {"double space", "PROXY TCP4  192.0.2.7 10.0.0.5 1 2\r\n", st::invalid, "", 0, false},
      {"udp", "PROXY UDP4 192.0.2.7 10.0.0.5 1 2\r\n", st::invalid, "", 0, false},
      {"lower case", "proxy TCP4 192.0.2.7 10.0.0.5 1 2\r\n", st::invalid, "", 0, false},
      {"too long", "PROXY TCP4 " + std::string(120, '1') + "\r\n", st::invalid, "", 0, false},
      {"not a header", "GET / HTTP/1.1\r\n", st::invalid, "", 0, false},
      {"tls hello", std::string("\x16\x03\x01\x02\x00\x01", 6), st::invalid, "", 0, false},
  };
  for (const auto& r : rows) {
    proxy_header h;
    std::size_t consumed = 0;
    const auto p = read_like_the_proxy(r.line + "\x16\x03\x01", proxy_versions::any, h, consumed);
    EXPECT_EQ(p.st, r.status) << r.name << ": " << p.why;
    if (r.status != st::complete) continue;
    EXPECT_EQ(consumed, r.line.size()) << r.name;  // the TLS bytes after it stay unread
    EXPECT_EQ(h.length, r.line.size()) << r.name;
    EXPECT_EQ(h.source, r.source) << r.name;
    EXPECT_EQ(h.source_port, r.port) << r.name;
    EXPECT_EQ(h.local, r.local) << r.name;
  }
}

TEST(ProxyProtocol, Version2) {
  const auto proxy4 = ipv4_block("\xcb\x00\x71\x09", 51000);  // 203.0.113.9
  std::string proxy6(16, '\0');
  proxy6[0] = char(0x20), proxy6[1] = char(0x01), proxy6[2] = char(0x0d), proxy6[3] = char(0xb8);
  proxy6[15] = 7;
  proxy6 += std::string(16, '\0') + std::string("\xc7\x38\x01\xbb", 4);  // 51000, 443
  struct row {
    const char* name;
    std::string wire;
    st status;
    const char* source;
    bool local;
  };
  const std::vector<row> rows = {
      {"ipv4", v2(0x21, 0x11, proxy4), st::complete, "203.0.113.9", false},
      {"ipv6", v2(0x21, 0x21, proxy6), st::complete, "2001:db8::7", false},
      {"local", v2(0x20, 0x00, ""), st::complete, "", true},
      {"local with block", v2(0x20, 0x11, proxy4), st::complete, "", true},
      {"tlvs",
       v2(0x21, 0x11,
          proxy4 + tlv(0x02, "outlook.example.test") +
              tlv(0x20, std::string("\x01\x00\x00\x00\x00", 5)) + tlv(0xe0, "vendor")),
       st::complete, "203.0.113.9", false},
      {"version 1 byte", v2(0x11, 0x11, proxy4), st::invalid, "", false},
      {"command 2", v2(0x22, 0x11, proxy4), st::invalid, "", false},
      {"udp", v2(0x21, 0x12, proxy4), st::invalid, "", false},
      {"short block", v2(0x21, 0x11, proxy4.substr(0, 10)), st::invalid, "", false},
      {"tlv past the end", v2(0x21, 0x11, proxy4 + std::string("\x02\x00\x09xx", 5)), st::invalid,
       "", false},
      {"half a tlv", v2(0x21, 0x11, proxy4 + std::string("\x02\x00", 2)), st::invalid, "", false},
      {"bad authority", v2(0x21, 0x11, proxy4 + tlv(0x02, "a b")), st::invalid, "", false},
      {"short ssl", v2(0x21, 0x11, proxy4 + tlv(0x20, "\x01")), st::invalid, "", false},
      {"too long", v2(0x21, 0x11, proxy4 + tlv(0xe0, std::string(1100, 'x'))), st::invalid, "",
       false},
  };
  for (const auto& r : rows) {
    proxy_header h;
    std::size_t consumed = 0;
    const auto p = read_like_the_proxy(r.wire + "\x16\x03\x01", proxy_versions::any, h, consumed);
    EXPECT_EQ(p.st, r.status) << r.name << ": " << p.why;
    if (r.status != st::complete) continue;
    EXPECT_EQ(consumed, r.wire.size()) << r.name;
    EXPECT_EQ(h.source, r.source) << r.name;
    EXPECT_EQ(h.local, r.local) << r.name;
  }
  proxy_header h;
  ASSERT_EQ(parse_proxy_header(v2(0x21, 0x11,
                                  proxy4 + tlv(0x02, "outlook.example.test") +
                                      tlv(0x20, std::string("\x01\0\0\0\0", 5))),
                               proxy_versions::v2, h)
                .st,
            st::complete);
  EXPECT_EQ(h.authority, "outlook.example.test");
  EXPECT_TRUE(h.ssl);
  EXPECT_EQ(h.source_port, 51000);
}

TEST(ProxyProtocol, OnlyTheVersionsTheListenerTakes) {
  proxy_header h;
  const std::string one = "PROXY TCP4 192.0.2.7 10.0.0.5 1 2\r\n";
  const auto two = v2(0x21, 0x11, ipv4_block("\xc0\x00\x02\x07", 1));
  EXPECT_EQ(parse_proxy_header(one, proxy_versions::v2, h).st, st::invalid);
  EXPECT_EQ(parse_proxy_header(two, proxy_versions::v1, h).st, st::invalid);
  EXPECT_EQ(parse_proxy_header(one, proxy_versions::v1, h).st, st::complete);
  EXPECT_EQ(parse_proxy_header(two, proxy_versions::v2, h).st, st::complete);
  // Nothing yet: ask for the fewest bytes that tell the versions apart.
  EXPECT_EQ(parse_proxy_header("", proxy_versions::any, h).want, 6u);
  EXPECT_EQ(parse_proxy_header("", proxy_versions::v2, h).want, 12u);
}

}  // namespace
}  // namespace routing
