// PROXY protocol on a listener, through real sockets: the header's source is the client for the
// log, X-Forwarded-For and the smart lockout, on either protocol; a header from an untrusted
// source, a missing or a malformed one closes the connection before a byte is read as HTTP.
#include <gtest/gtest.h>

#include "routing/base64.hpp"
#include "routing/text.hpp"
#include "tests/support/admin.hpp"
#include "tests/support/csv.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/one_request.hpp"
#include "tests/support/sims.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

/// A v2 PROXY header (TCP over IPv4) from `a.b.c.d:51000` to 10.0.0.5:443.
std::string proxy_v2(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  std::string h("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", 16);
  h += std::string{char(a), char(b), char(c), char(d)};
  h += std::string("\x0a\x00\x00\x05\xc7\x38\x01\xbb", 8);
  return h;
}

std::string trusted_listener(const std::string& sources = "[127.0.0.0/8]") {
  return "    proxy_protocol: any\n    trusted_sources: " + sources + "\n";
}

/// The X-Forwarded-For the mailbox server saw on its last request.
std::string forwarded_for(const sim::server& s) {
  const auto got = s.requests();
  if (got.empty()) return {};
  for (const auto& h : got.back().headers)
    if (routing::iequals(h.name, "X-Forwarded-For")) return h.value;  // HTTP/2: lower case
  return {};
}

class ProxyProtocolBoth : public ::testing::TestWithParam<bool> {};  // true: HTTP/2

TEST_P(ProxyProtocolBoth, TheHeadersSourceIsTheClient) {
  auto mbx = start_sim("mbx01");
  temp_dir logs;
  {
    gateway gw({.backends = {{"mbx01", mbx->port()}},
                .logs_yaml = "  directory: " + logs.path().string() + "\n",
                .listener_alpn = "[h2, http/1.1]",
                .listener_yaml = trusted_listener()});
    const auto header = proxy_v2(203, 0, 113, 9);
    if (GetParam()) {
      h2_test_client c(gw.port(), internal_host, test_pki::instance().ca_file(),
                       std::chrono::seconds(5), {}, header);
      const auto& r = c.wait(
          c.request("POST", "/mapi/emsmdb/?MailboxId=u@corp.test", internal_host,
                    {{"content-type", "application/mapi-http"}, {"x-requesttype", "PING"}}, ""));
      EXPECT_EQ(r.status, 200);
    } else {
      auto c =
          test_client::tls(gw.port(), internal_host, test_pki::instance().ca_file(), {}, header);
      c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
      EXPECT_EQ(c.read_response().status, 200);
    }
    EXPECT_EQ(forwarded_for(*mbx), "203.0.113.9");
  }
  const auto rows = http_proxy_rows(logs.path(), "Mapi");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("ClientIpAddress"), "203.0.113.9");
}

// Behind a trusted L7 hop (trusted_proxies) the client is the right-most X-Forwarded-For entry
// the hops did not add; from anyone else, what X-Forwarded-For says is not believed.
TEST_P(ProxyProtocolBoth, TrustedForwardedForNamesTheClient) {
  auto mbx = start_sim("mbx01");
  temp_dir logs;
  {
    gateway behind({.backends = {{"mbx01", mbx->port()}},
                    .logs_yaml = "  directory: " + logs.path().string() + "\n",
                    .listener_alpn = "[h2, http/1.1]",
                    .listener_yaml = "    trusted_proxies: [127.0.0.0/8]\n"});
    gateway open({.backends = {{"mbx01", mbx->port()}},
                  .listener_alpn = "[h2, http/1.1]",
                  .listener_yaml = "    trusted_proxies: [10.0.0.0/8]\n"});
    for (auto* gw : {&behind, &open}) {
      const header_list fields = {{"Content-Type", "application/mapi-http"},
                                  {"X-RequestType", "PING"},
                                  {"X-Forwarded-For", "1.2.3.4, 198.51.100.1"}};
      EXPECT_EQ(
          send_one(GetParam(), *gw, "POST", "/mapi/emsmdb/?MailboxId=u@corp.test", fields).status,
          200);
    }
  }
  const auto rows = http_proxy_rows(logs.path(), "Mapi");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("ClientIpAddress"), "198.51.100.1");
  // The chain goes on as it came, with the hop that reached mapigate appended.
  EXPECT_EQ(forwarded_for(*mbx), "1.2.3.4, 198.51.100.1, 127.0.0.1");
}

INSTANTIATE_TEST_SUITE_P(Protocols, ProxyProtocolBoth, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Http2" : "Http11"; });

TEST(ProxyProtocol, UntrustedMissingAndMalformedHeadersCloseTheConnection) {
  auto mbx = start_sim("mbx01");
  gateway trusting({.backends = {{"mbx01", mbx->port()}}, .listener_yaml = trusted_listener()});
  gateway wary(
      {.backends = {{"mbx01", mbx->port()}}, .listener_yaml = trusted_listener("[10.0.0.0/8]")});
  const auto ca = test_pki::instance().ca_file();
  auto connect = [&](gateway& gw, const std::string& preamble) {
    try {
      auto c = test_client::tls(gw.port(), internal_host, ca, {}, preamble);
      c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
      return c.read_response().status;
    } catch (const std::exception&) {
      return 0;  // closed before TLS or HTTP
    }
  };
  EXPECT_EQ(connect(wary, proxy_v2(203, 0, 113, 9)), 0);          // not from a balancer
  EXPECT_EQ(connect(trusting, ""), 0);                            // no header
  EXPECT_EQ(connect(trusting, "PROXY TCP4 1.2.3 x 1 2\r\n"), 0);  // malformed
  EXPECT_EQ(connect(trusting, "PROXY TCP4 198.51.100.4 10.0.0.5 51000 443\r\n"), 200);
  EXPECT_EQ(forwarded_for(*mbx), "198.51.100.4");
  EXPECT_EQ(connect(trusting, "PROXY UNKNOWN\r\n"), 200);  // a balancer's own check
  EXPECT_EQ(forwarded_for(*mbx), "127.0.0.1");
  // A balancer's TCP check: connected and closed, nothing sent. Not a refusal.
  test_client::plain(trusting.port()).close_gracefully();
  EXPECT_TRUE(eventually([&] {
    return sample(metrics_text(trusting.admin_port()), "mapigate_client_connections") == 0;
  }));
  EXPECT_EQ(sample(metrics_text(wary.admin_port()),
                   R"(mapigate_proxy_protocol_refused_total{reason="untrusted"})"),
            1);
  const auto m = metrics_text(trusting.admin_port());
  EXPECT_EQ(sample(m, R"(mapigate_proxy_protocol_refused_total{reason="missing"})"), 1);
  EXPECT_EQ(sample(m, R"(mapigate_proxy_protocol_refused_total{reason="malformed"})"), 1);
}

// However the balancer's bytes are split across reads (all at once, one write for the header
// and one for the request, one byte per write), the header is read to its last byte and no
// further: the request after it is served whole, and a pooled backend connection carries the
// next request with the next header's client.
TEST(ProxyProtocol, TheHeaderHoldsWhateverTheSplit) {
  auto mbx = start_sim("mbx01");
  gateway gw(
      {.backends = {{"mbx01", mbx->port()}}, .tls = false, .listener_yaml = trusted_listener()});
  const std::string request = mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "");
  struct split {
    const char* name;
    std::string header;
    std::size_t piece;  ///< bytes per write; 0: header and request in one write each
  };
  const split splits[] = {
      {"v2 whole", proxy_v2(203, 0, 113, 1), request.size() + 64},
      {"v2 two writes", proxy_v2(203, 0, 113, 2), 0},
      {"v2 byte by byte", proxy_v2(203, 0, 113, 3), 1},
      {"v1 byte by byte", "PROXY TCP4 198.51.100.4 10.0.0.5 51000 443\r\n", 1},
      {"v1 seven bytes", "PROXY TCP4 198.51.100.5 10.0.0.5 51000 443\r\n", 7},
  };
  for (const auto& sp : splits) {
    auto c = test_client::plain(gw.port());
    const std::string wire = sp.header + request;
    if (sp.piece == 0) {
      c.send(sp.header);
      c.send(request);
    } else {
      for (std::size_t at = 0; at < wire.size(); at += sp.piece)
        c.send(wire.substr(at, sp.piece));
    }
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 200) << sp.name;
    const auto expected = sp.header.starts_with("PROXY")
                              ? sp.header.substr(11, sp.header.find(' ', 11) - 11)
                              : "203.0.113." + std::to_string(int(sp.header[19]));
    EXPECT_EQ(forwarded_for(*mbx), expected) << sp.name;
  }
  // The backend saw each request once and whole, whichever pooled connection carried it.
  const auto seen = mbx->requests();
  EXPECT_EQ(seen.size(), std::size(splits));
  for (const auto& r : seen)
    EXPECT_EQ(r.target, "/mapi/emsmdb/?MailboxId=u@corp.test");
}

// The smart lockout counts the address the balancer reported, not the balancer's.
TEST(ProxyProtocol, TheLockoutHoldsTheRealClientAddress) {
  sim::options so;
  so.require_auth = true;
  so.password = "Winter-2026";
  auto mbx = start_sim("mbx01", so);
  gateway gw({.backends = {{"mbx01", mbx->port()}},
              .extra_yaml = "auth_protection:\n  user_threshold: 2\n  address_threshold: 3\n",
              .listener_yaml = trusted_listener()});
  auto c = test_client::tls(gw.port(), internal_host, test_pki::instance().ca_file(), {},
                            proxy_v2(203, 0, 113, 66));
  for (int i = 0; i < 4; ++i) {
    c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "",
                        "Authorization: Basic " +
                            routing::base64_encode("user" + std::to_string(i) + "@corp.test:x") +
                            "\r\n"));
    EXPECT_EQ(c.read_response().status, 401);
  }
  const auto held = admin_call(gw.admin_port(), "GET", "/auth-protection").body;
  EXPECT_NE(held.find("\"address\":\"203.0.113.66\""), std::string::npos) << held;
  EXPECT_EQ(held.find("127.0.0.1"), std::string::npos) << held;
}

}  // namespace
}  // namespace testing_support
