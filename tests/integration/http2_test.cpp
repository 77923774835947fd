// HTTP/2 front end (ALPN h2) with nghttp2's own client in-process and nghttp2-client's h2load:
// MAPI over h2 with streaming timing, NTLM refused with HTTP_1_1_REQUIRED as Windows does,
// rapid reset and floods, GOAWAY on drain with streams completing.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <thread>

#include "routing/text.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/sims.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

gateway_options h2_options(std::uint16_t backend_port) {
  return gateway_options{.backends = {{"mbx01", backend_port}}};
}

/// A gateway whose listener offers h2 first, then http/1.1.
std::unique_ptr<gateway> h2_gateway(gateway_options o) {
  o.listener_alpn = "[h2, http/1.1]";
  return std::make_unique<gateway>(std::move(o));
}

h2_test_client h2_client(gateway& gw) {
  return h2_test_client(gw.port(), internal_host, test_pki::instance().ca_file());
}

std::string cookies_of(const h2_test_client::response& r) {
  std::string out;
  for (const auto& [k, v] : r.headers)
    if (k == "set-cookie") out += (out.empty() ? "" : "; ") + v.substr(0, v.find(';'));
  return out;
}

TEST(Http2, ConnectExecuteNotificationWaitWithPendingChunksStreamedAsDataFrames) {
  sim::options o;
  o.pending_period = 100ms;
  o.execute_delay = 650ms;
  o.notification_wait = 500ms;
  auto mbx = start_sim("mbx01", o);
  auto gw = h2_gateway(h2_options(mbx->port()));
  auto c = h2_client(*gw);
  const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";
  const auto connect = c.wait(
      c.request("POST", path, internal_host, h2_test_client::mapi_headers("Connect"), "connect"));
  ASSERT_EQ(connect.status, 200);
  EXPECT_EQ(connect.header("x-responsecode"), "0");
  EXPECT_EQ(connect.header("x-beserver"), "mbx01");
  EXPECT_FALSE(cookies_of(connect).empty());
  mbx->clear_records();

  const auto id = c.request("POST", path, internal_host,
                            h2_test_client::mapi_headers("Execute", cookies_of(connect)), "rops");
  const auto r = c.wait(id, 5s);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-responsecode"), "0");
  EXPECT_EQ(r.error_code, 0u);
  // The backend's HTTP/1.1 fields arrive as HTTP/2 headers: lower-case names, and none of the
  // connection-specific ones (its chunked Transfer-Encoding among them).
  for (const auto& [name, value] : r.headers) {
    EXPECT_EQ(name, routing::to_lower(name));
    for (const char* hop : {"connection", "keep-alive", "transfer-encoding", "upgrade"})
      EXPECT_NE(name, hop);
  }
  // The backend received the request over HTTP/1.1, body intact.
  const auto seen = mbx->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body, "rops");

  // Each PROCESSING/PENDING the backend wrote reached the client promptly, as its own DATA.
  const auto writes = mbx->writes();
  std::size_t matched = 0, next = 0;
  for (const auto& got : r.chunks) {
    if (got.data != "PROCESSING\r\n" && got.data != "PENDING\r\n") continue;
    while (next < writes.size() && writes[next].data != got.data)
      ++next;
    ASSERT_LT(next, writes.size());
    const auto gap = duration_cast<milliseconds>(got.at - writes[next].at);
    EXPECT_LT(gap.count(), 50) << "chunk " << matched << " " << gap.count() << " ms late";
    ++matched;
    ++next;
  }
  EXPECT_GE(matched, 6u);

  // A NotificationWait long-poll over the same connection, alongside a PING on another stream.
  const auto nw =
      c.request("POST", path, internal_host,
                h2_test_client::mapi_headers("NotificationWait", cookies_of(connect)), "nw");
  const auto ping =
      c.wait(c.request("POST", path, internal_host, h2_test_client::mapi_headers("PING"), ""));
  EXPECT_EQ(ping.status, 200);
  EXPECT_FALSE(c.get(nw).done);  // the long-poll is still held while the PING completed
  const auto wait = c.wait(nw, 5s);
  EXPECT_EQ(wait.status, 200);
  EXPECT_NE(wait.body.find("DONE\r\n"), std::string::npos);
}

TEST(Http2, NtlmIsRefusedWithHttp11RequiredAndBasicWorks) {
  sim::options o;
  o.require_auth = true;
  auto mbx = start_sim("mbx01", o);
  auto gw = h2_gateway(h2_options(mbx->port()));
  auto c = h2_client(*gw);
  const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";
  const auto ntlm = c.wait(
      c.request("POST", path, internal_host,
                h2_test_client::mapi_headers("Connect", {}, "NTLM " + sim::ntlm_type1_b64()), "x"));
  EXPECT_EQ(ntlm.error_code, 0xdu);  // HTTP_1_1_REQUIRED
  EXPECT_EQ(ntlm.status, 0);
  const auto nego = c.wait(c.request(
      "POST", path, internal_host,
      h2_test_client::mapi_headers("Connect", {}, "Negotiate " + sim::ntlm_type1_b64()), "x"));
  EXPECT_EQ(nego.error_code, 0xdu);
  EXPECT_TRUE(mbx->requests().empty());  // nothing reached the backend
  // The connection itself is fine: Basic goes through.
  const auto basic = c.wait(
      c.request("POST", path, internal_host,
                h2_test_client::mapi_headers("Connect", {}, "Basic Q09SUFxhbGljZTpwdw=="), "x"));
  EXPECT_EQ(basic.status, 200);
  EXPECT_EQ(basic.header("x-responsecode"), "0");
  // Anonymous: the backend's challenge, cut to what the vdir allows.
  const auto anon =
      c.wait(c.request("POST", path, internal_host, h2_test_client::mapi_headers("Connect"), "x"));
  EXPECT_EQ(anon.status, 401);
}

TEST(Http2, RefusalsSpeakMapiAndHealthCheckWorks) {
  auto mbx = start_sim("mbx01");
  auto gw = h2_gateway(h2_options(mbx->port()));
  auto c = h2_client(*gw);
  const auto health = c.wait(c.request("GET", "/mapi/healthcheck.htm", internal_host));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "200 OK<br/>fe01.corp.test");
  const auto foreign =
      c.wait(c.request("POST", "/mapi/emsmdb/?MailboxId=u@corp.test", "evil.example",
                       h2_test_client::mapi_headers("Connect"), "x"));
  EXPECT_EQ(foreign.status, 421);
  const auto no_mailbox = c.wait(c.request("POST", "/mapi/emsmdb/", internal_host,
                                           h2_test_client::mapi_headers("Connect"), "x"));
  EXPECT_EQ(no_mailbox.status, 400);
  const auto big =
      c.wait(c.request("POST", "/mapi/emsmdb/?MailboxId=u@corp.test", internal_host,
                       h2_test_client::mapi_headers("Execute"), std::string(5 * 1024 * 1024, 'x')),
             10s);
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(big.header("x-responsecode"), "9");
  EXPECT_TRUE(mbx->requests().empty());
}

// A Host field beside :authority must name the same host (RFC 9113 §8.3.1): otherwise which one
// routing and the backend go by would differ. One that differs only in case is the same host; a
// request without one gets Host from :authority.
TEST(Http2, AHostFieldMustNameTheAuthority) {
  auto mbx = start_sim("mbx01");
  auto gw = h2_gateway(h2_options(mbx->port()));
  auto c = h2_client(*gw);
  const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";
  auto with_host = [&](const std::string& host) {
    auto h = h2_test_client::mapi_headers("Connect");
    h.emplace_back("host", host);
    return h;
  };
  const auto other = c.wait(c.request("POST", path, internal_host, with_host(external_host), "x"));
  EXPECT_EQ(other.status, 400);
  EXPECT_TRUE(mbx->requests().empty()) << "a request whose Host and :authority differ went on";
  const auto upper = c.wait(
      c.request("POST", path, internal_host, with_host(routing::to_upper(internal_host)), "x"));
  EXPECT_EQ(upper.status, 200);
  EXPECT_EQ(upper.header("x-responsecode"), "0");
  const auto none =
      c.wait(c.request("POST", path, internal_host, h2_test_client::mapi_headers("Connect"), "x"));
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.header("x-responsecode"), "0");
  EXPECT_EQ(mbx->requests().size(), 2u);
}

TEST(Http2, RapidResetBurstEndsThatSessionWithoutStallingOthers) {
  sim::options o;
  o.execute_delay = 200ms;
  auto mbx = start_sim("mbx01", o);
  auto gw = h2_gateway(h2_options(mbx->port()));
  auto good = h2_client(*gw);
  const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";
  const auto connect = good.wait(
      good.request("POST", path, internal_host, h2_test_client::mapi_headers("Connect"), "x"));
  ASSERT_EQ(connect.status, 200);

  auto bad = h2_client(*gw);
  // CVE-2023-44487: open streams and cancel them at once, over and over.
  for (int i = 0; i < 600 && !bad.connection_closed() && !bad.goaway_received(); ++i) {
    const auto id = bad.request("GET", "/mapi/healthcheck.htm", internal_host);
    bad.flush();  // HEADERS on the wire, then at once RST_STREAM
    bad.reset(id);
  }
  EXPECT_TRUE(bad.run_until([&] { return bad.goaway_received() || bad.connection_closed(); }, 5s));
  // nghttp2's reset rate limit ends the session with an error GOAWAY (not a graceful one).
  if (bad.goaway_received()) {
    EXPECT_NE(bad.goaway_code(), 0u);
  }

  // The other client is served as before, and nothing is left running.
  const auto r =
      good.wait(good.request("POST", path, internal_host,
                             h2_test_client::mapi_headers("Execute", cookies_of(connect)), "x"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(eventually([&] { return gw->server().active_requests() == 0; }));
}

/// An HTTP/2 frame: 9-byte header and payload.
std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  const std::string& payload) {
  std::string f;
  f += char((payload.size() >> 16) & 0xff);
  f += char((payload.size() >> 8) & 0xff);
  f += char(payload.size() & 0xff);
  f += char(type);
  f += char(flags);
  for (int shift : {24, 16, 8, 0})
    f += char((stream >> shift) & 0xff);
  return f + payload;
}

TEST(Http2, ContinuationAndSettingsFloodsEndOnlyThatSession) {
  auto mbx = start_sim("mbx01");
  auto gw = h2_gateway(h2_options(mbx->port()));
  // GET / https, :authority mail.corp.test (HPACK: static indexes and one literal).
  const std::string block = std::string("\x82\x87\x84\x41\x0e", 5) + internal_host;
  {
    auto c = h2_client(*gw);
    std::string flood = frame(0x1, 0x0, 101, block);  // HEADERS without END_HEADERS
    for (int i = 0; i < 64; ++i)
      flood += frame(0x9, 0x0, 101, std::string("\x82", 1));  // CONTINUATION, never ending
    c.send_raw(flood);
    EXPECT_TRUE(c.run_until([&] { return c.goaway_received() || c.connection_closed(); }, 3s));
  }
  {
    auto c = h2_client(*gw);
    std::string flood;
    for (int i = 0; i < 4000; ++i)
      flood += frame(0x4, 0x0, 0, "");  // SETTINGS, each demanding an ACK
    c.send_raw(flood);
    EXPECT_TRUE(c.run_until([&] { return c.goaway_received() || c.connection_closed(); }, 3s));
  }
  // A header list over limits.header_bytes gets 431; the session goes on.
  auto c = h2_client(*gw);
  const auto big = c.wait(c.request("GET", "/mapi/healthcheck.htm", internal_host,
                                    {{"x-padding", std::string(20000, 'p')}}));
  EXPECT_EQ(big.status, 431);
  EXPECT_EQ(c.wait(c.request("GET", "/mapi/healthcheck.htm", internal_host)).status, 200);
}

TEST(Http2, AStalledRequestBodyLosesItsStreamNotTheConnection) {
  auto mbx = start_sim("mbx01");
  auto o = h2_options(mbx->port());
  o.timeouts = {{"body_idle", "300ms"}};
  auto gw = h2_gateway(std::move(o));
  auto c = h2_client(*gw);
  const auto id = c.request("POST", "/mapi/emsmdb/?MailboxId=u@corp.test", internal_host,
                            h2_test_client::mapi_headers("Execute"), "never sent", true);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = c.wait(id, 3s);
  EXPECT_EQ(r.error_code, 0x8u);  // CANCEL
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(eventually([&] { return gw->server().active_requests() == 0; }));
  // The connection is still good.
  EXPECT_EQ(c.wait(c.request("GET", "/mapi/healthcheck.htm", internal_host)).status, 200);
}

TEST(Http2, ClientVanishingMidResponseEndsItsStreamsAndNothingElse) {
  sim::options o;
  o.execute_delay = 400ms;
  o.pending_period = 20ms;
  o.response_body_bytes = 64 * 1024;
  auto mbx = start_sim("mbx01", o);
  auto gw = h2_gateway(h2_options(mbx->port()));
  const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";
  for (int round = 0; round < 6; ++round) {
    auto c = h2_client(*gw);
    const auto connect = c.wait(
        c.request("POST", path, internal_host, h2_test_client::mapi_headers("Connect"), "x"));
    ASSERT_EQ(connect.status, 200);
    std::vector<std::int32_t> ids;
    for (int i = 0; i < 24; ++i)
      ids.push_back(c.request("POST", path, internal_host,
                              h2_test_client::mapi_headers("Execute", cookies_of(connect)), "x"));
    // Leave (with unread data: a reset) while PENDINGs stream on every stream and, in later
    // rounds, while the first responses' bodies are being written: the server's reads and
    // writes fail while stream coroutines are still running.
    ASSERT_TRUE(c.run_until([&] { return !c.get(ids.back()).chunks.empty(); }, 3s));
    if (round % 2 == 1) c.run_until([&] { return c.get(ids.front()).body.size() > 1000; }, 2s);
  }
  EXPECT_TRUE(eventually([&] { return gw->server().active_requests() == 0; }, 5s));
  auto fresh = h2_client(*gw);
  EXPECT_EQ(fresh.wait(fresh.request("GET", "/mapi/healthcheck.htm", internal_host)).status, 200);
}

TEST(Http2, GoawayOnDrainLetsTheStreamInFlightComplete) {
  sim::options o;
  o.execute_delay = 600ms;
  o.pending_period = 100ms;
  auto mbx = start_sim("mbx01", o);
  auto gw = h2_gateway(h2_options(mbx->port()));
  auto c = h2_client(*gw);
  const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";
  const auto connect =
      c.wait(c.request("POST", path, internal_host, h2_test_client::mapi_headers("Connect"), "x"));
  ASSERT_EQ(connect.status, 200);
  const auto id = c.request("POST", path, internal_host,
                            h2_test_client::mapi_headers("Execute", cookies_of(connect)), "x");
  // In flight means at the backend: mapigate's own count may still include the Connect.
  ASSERT_TRUE(c.run_until([&] { return mbx->requests().size() >= 2; }));
  std::jthread stopper([&] { gw->server().stop(5s); });  // joined however the test ends
  ASSERT_TRUE(c.run_until([&] { return c.goaway_received(); }, 3s));
  EXPECT_EQ(c.goaway_code(), 0u);  // NO_ERROR: a graceful shutdown
  const auto r = c.wait(id, 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("DONE\r\n"), std::string::npos);
  EXPECT_TRUE(c.run_until([&] { return c.connection_closed(); }, 3s));
  stopper.join();
}

TEST(Http2, ReloadSendsAGracefulGoawaySoClientsReconnectToTheNewConfiguration) {
  auto mbx = start_sim("mbx01");
  auto gw = h2_gateway(h2_options(mbx->port()));
  auto c = h2_client(*gw);
  EXPECT_EQ(c.wait(c.request("GET", "/mapi/healthcheck.htm", internal_host)).status, 200);
  ASSERT_TRUE(gw->server().reload(gw->config_file()));
  ASSERT_TRUE(c.run_until([&] { return c.goaway_received(); }, 3s));
  EXPECT_EQ(c.goaway_code(), 0u);
  auto fresh = h2_client(*gw);
  EXPECT_EQ(fresh.wait(fresh.request("GET", "/mapi/healthcheck.htm", internal_host)).status, 200);
}

TEST(Http2, H2loadManyStreamsOverFewConnections) {
  auto mbx = start_sim("mbx01");
  auto gw = h2_gateway(h2_options(mbx->port()));
  temp_dir dir;
  const auto body = dir.file("body");
  write_file(body, std::string(1024, 'r'));
  const std::string cmd = "h2load -n 300 -c 3 -m 10 -d " + body +
                          " --connect-to=127.0.0.1:" + std::to_string(gw->port()) +
                          " -H 'content-type: application/mapi-http' -H 'x-requesttype: PING'"
                          " -H 'x-requestid: {C715155F-2BE8-44E0-BD34-2960065754C8}:1'"
                          " -H 'x-clientinfo: {2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1'"
                          " 'https://" +
                          std::string(internal_host) + ":" + std::to_string(gw->port()) +
                          "/mapi/emsmdb/?MailboxId=u@corp.test'";
  const auto [status, out] = run_shell(cmd);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Application protocol: h2"), std::string::npos) << out;
  EXPECT_NE(out.find("300 succeeded"), std::string::npos) << out;
  EXPECT_NE(out.find("status codes: 300 2xx"), std::string::npos) << out;
}

}  // namespace
}  // namespace testing_support
