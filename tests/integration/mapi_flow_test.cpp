// MAPI/HTTP through mapigate to simulated mailbox servers: round trips, keep-alive, routing,
// fail-over before the first byte, TLS bridging, SNI certificate choice.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/support/gateway.hpp"
#include "tests/support/sims.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

TEST(MapiFlow, ConnectExecuteDisconnectRoundTrip) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}});
  auto c = gw.client();
  const std::string mailbox = "416c6368-656d-794a-6f45-57615272456e@corp.test";

  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", std::string(129, 'c')));
  auto connect = c.read_response();
  ASSERT_EQ(connect.status, 200);
  EXPECT_EQ(connect.header("X-ResponseCode"), "0");
  EXPECT_EQ(connect.header("X-BEServer"), "mbx01");
  EXPECT_EQ(connect.header("X-RequestType"), "Connect");
  ASSERT_FALSE(connect.chunks.empty());
  EXPECT_EQ(connect.chunks.front().data, "PROCESSING\r\n");
  EXPECT_NE(connect.body.find("DONE\r\n"), std::string::npos);
  const auto cookies = cookies_from(connect);
  ASSERT_NE(cookies.find("MapiContext="), std::string::npos);  // passed through untouched

  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Execute", std::string(300, 'e'),
                      "Cookie: " + cookies + "\r\n"));
  auto execute = c.read_response();
  EXPECT_EQ(execute.status, 200);
  EXPECT_EQ(execute.header("X-ResponseCode"), "0");
  const auto rotated = cookies_from(execute);  // sequence cookie rotates

  std::string jar = cookies;
  const auto seq = rotated.find("MapiSequence=");
  ASSERT_NE(seq, std::string::npos);
  jar = jar.substr(0, jar.find("MapiSequence=")) + rotated.substr(seq);
  c.send(
      mapi_request(internal_host, "emsmdb", mailbox, "Disconnect", "", "Cookie: " + jar + "\r\n"));
  auto disconnect = c.read_response();
  EXPECT_EQ(disconnect.header("X-ResponseCode"), "0");

  // The simulator saw the three requests with the forwarding header and without hop-by-hop ones.
  ASSERT_TRUE(mbx->wait_for_requests(3, 2s));
  const auto reqs = mbx->requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].body, std::string(300, 'e'));
  bool xff = false;
  for (const auto& h : reqs[0].headers) {
    if (h.name == "X-Forwarded-For") xff = h.value == "127.0.0.1";
    EXPECT_NE(h.name, "Connection");
  }
  EXPECT_TRUE(xff);
}

TEST(MapiFlow, KeepAliveReusesClientAndBackendConnections) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}, .workers = 1});
  auto c = gw.client();
  for (int i = 0; i < 5; ++i) {
    c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
  }
  // Five requests on one client connection used one pooled backend connection.
  EXPECT_EQ(mbx->connections_accepted(), 1u);
  // A second client connection on the same worker reuses the idle backend connection too.
  ASSERT_TRUE(eventually([&] { return gw.server().active_requests() == 0; }));
  auto c2 = gw.client();
  c2.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(c2.read_response().status, 200);
  EXPECT_EQ(mbx->connections_accepted(), 1u);
}

TEST(MapiFlow, BothNamespacesServeAndMailboxesStickToTheirServer) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw({.backends = {{"mbx01", a->port()}, {"mbx02", b->port()}}});
  std::map<std::string, std::string> owner;
  for (int i = 0; i < 16; ++i) {
    const std::string mailbox = "user" + std::to_string(i) + "@corp.test";
    for (const char* host : {internal_host, external_host}) {
      auto c = gw.client(host);
      c.send(mapi_request(host, "nspi", mailbox, "PING", ""));
      auto r = c.read_response();
      ASSERT_EQ(r.status, 200);
      const auto server = r.header("X-BEServer");
      auto [it, fresh] = owner.emplace(mailbox, server);
      EXPECT_EQ(it->second, server) << mailbox << " moved between requests";
    }
  }
  std::set<std::string> used;
  for (const auto& [m, s] : owner)
    used.insert(s);
  EXPECT_EQ(used.size(), 2u) << "rendezvous hashing should spread 16 mailboxes over both";
}

TEST(MapiFlow, ExplicitAndDomainRoutesOverrideTheHash) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw({.backends = {{"mbx01", a->port()}, {"mbx02", b->port()}},
              .routes_yaml = "routes:\n  - mailbox: vip@corp.test\n    backend: mbx02\n"
                             "  - domain: fabrikam.test\n    backend: mbx01\n"
                             "  - default: true\n    pool: dag1\n"});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "VIP@corp.test", "PING", ""));
  EXPECT_EQ(c.read_response().header("X-BEServer"), "mbx02");
  c.send(mapi_request(internal_host, "emsmdb", "anyone@fabrikam.test", "PING", ""));
  EXPECT_EQ(c.read_response().header("X-BEServer"), "mbx01");
}

TEST(MapiFlow, FailsOverWhenTheOwnerRefusesConnections) {
  auto live = start_sim("mbx02");
  std::uint16_t dead_port;
  {
    auto dead = start_sim("mbx01");  // bind a port, then free it: nothing listens there now
    dead_port = dead->port();
    dead->stop();
  }
  gateway gw({.backends = {{"mbx01", dead_port}, {"mbx02", live->port()}}});
  // Pick a mailbox the hash assigns to the dead server, so fail-over is really exercised.
  const auto mailbox = mailbox_owned_by(0);
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", "x"));
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-BEServer"), "mbx02");
}

TEST(MapiFlow, AllBackendsDownIs502) {
  std::uint16_t dead_port;
  {
    auto dead = start_sim("mbx01");
    dead_port = dead->port();
    dead->stop();
  }
  gateway gw({.backends = {{"mbx01", dead_port}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  EXPECT_EQ(c.read_response().status, 502);
}

TEST(MapiFlow, TlsBridgingToTheBackend) {
  const auto cert = test_pki::instance().issue("mbx01", {"mbx01.corp.test"}, {"127.0.0.1"});
  sim::options o;
  o.cert_file = cert.cert;
  o.key_file = cert.key;
  auto mbx = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", mbx->port(), true, "mbx01.corp.test"}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-BEServer"), "mbx01");
}

TEST(MapiFlow, BackendCertificateForAnotherNameIsRefusedNotDowngraded) {
  const auto cert = test_pki::instance().issue("mbx01", {"mbx01.corp.test"}, {"127.0.0.1"});
  sim::options o;
  o.cert_file = cert.cert;
  o.key_file = cert.key;
  auto mbx = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", mbx->port(), true, "mbx99.corp.test"}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  EXPECT_EQ(c.read_response().status, 502);
  EXPECT_EQ(mbx->requests().size(), 0u);
}

TEST(MapiFlow, SniChoosesTheNamespaceCertificate) {
  auto& pki = test_pki::instance();
  const auto internal = pki.issue("internal-only", {internal_host});
  const auto external = pki.issue("external-only", {external_host});
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}, .certificates = {internal, external}});
  EXPECT_EQ(gw.client(internal_host).peer_certificate_names(),
            std::vector<std::string>{internal_host});
  EXPECT_EQ(gw.client(external_host).peer_certificate_names(),
            std::vector<std::string>{external_host});
  // The external certificate really serves requests for the external namespace.
  auto c = gw.client(external_host);
  c.send(mapi_request(external_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(c.read_response().status, 200);
}

TEST(MapiFlow, HealthCheckIsAnsweredByMapigate) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}});
  auto c = gw.client();
  c.send("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: mail.corp.test\r\n\r\n");
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "200 OK<br/>fe01.corp.test");
  // HEAD: same head, no body; the connection stays usable.
  c.send("HEAD /mapi/healthcheck.htm HTTP/1.1\r\nHost: mail.corp.test\r\n\r\n");
  c.send("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: mail.corp.test\r\n\r\n");
  auto head = c.read_response_to_head();
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(r.body.size()));
  EXPECT_EQ(c.read_response().body, r.body);
  EXPECT_EQ(mbx->requests().size(), 0u);
}

}  // namespace
}  // namespace testing_support
