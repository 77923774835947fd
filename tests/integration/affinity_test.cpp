// Session affinity: a signed token keeps every request of a MAPI session on the server holding
// its context, across reconnects and mapigate instances; bad tokens are ignored, never obeyed.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "routing/affinity.hpp"
#include "routing/rendezvous.hpp"
#include "routing/route_table.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/sims.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

/// The affinity cookie value in a response ("" when none).
std::string token_of(const http_response& r) {
  for (const auto& v : r.all("Set-Cookie"))
    if (v.rfind("MapigateAffinity=", 0) == 0) return v.substr(17, v.find(';') - 17);
  return {};
}

class Affinity : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = start_sim("mbx01");
    b_ = start_sim("mbx02");
  }
  gateway_options options(const std::string& state_a = "") const {
    return {.backends = {{.name = "mbx01", .port = a_->port(), .state = state_a},
                         {.name = "mbx02", .port = b_->port()}},
            .affinity_key = test_affinity_key};
  }
  std::unique_ptr<sim::server> a_, b_;
};

TEST_F(Affinity, ReconnectAndAnotherInstanceKeepTheSessionsServer) {
  gateway first(options());
  // Instance two drains mbx01: new sessions avoid it, so only the token can bring a session
  // that lives on mbx01 back there.
  gateway second(options("draining"));
  const auto mailbox = mailbox_owned_by(0);

  auto c1 = first.client();
  c1.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", "x"));
  const auto connect = c1.read_response();
  ASSERT_EQ(connect.header("X-BEServer"), "mbx01");
  const auto token = token_of(connect);
  ASSERT_FALSE(token.empty());
  for (const auto& v : connect.all("Set-Cookie"))
    if (v.rfind("MapigateAffinity=", 0) == 0) {
      EXPECT_NE(v.find("Path=/mapi"), std::string::npos);
      EXPECT_NE(v.find("Secure"), std::string::npos);
      EXPECT_NE(v.find("HttpOnly"), std::string::npos);
    }
  c1.abort();  // the laptop sleeps; Wi-Fi becomes LTE; the balancer picks the other instance

  auto c2 = second.client(external_host);
  const std::string jar = cookies_from(connect);
  c2.send(
      mapi_request(external_host, "emsmdb", mailbox, "Execute", "x", "Cookie: " + jar + "\r\n"));
  const auto execute = c2.read_response();
  EXPECT_EQ(execute.header("X-BEServer"), "mbx01");
  EXPECT_EQ(execute.header("X-ResponseCode"), "0");

  // mapigate's own cookie never reached a backend; the backend's cookies did, untouched.
  for (auto* s : {a_.get(), b_.get()})
    for (const auto& rec : s->requests())
      for (const auto& h : rec.headers)
        if (h.name == "Cookie") {
          EXPECT_EQ(h.value.find("MapigateAffinity"), std::string::npos) << h.value;
          EXPECT_NE(h.value.find("MapiContext="), std::string::npos);
        }
  // A new session on the draining instance goes elsewhere.
  auto c3 = second.client();
  c3.send(mapi_request(internal_host, "emsmdb", mailbox_owned_by(0, 7), "Connect", "x"));
  EXPECT_EQ(c3.read_response().header("X-BEServer"), "mbx02");
}

TEST_F(Affinity, TwoMapigateProcessesAgreeThroughTheToken) {
  // Instance one in this process; instance two a separate `mapigate run` process with its own
  // config file that shares only the key and drains mbx01 (so only the token leads there).
  gateway first(options());
  temp_dir dir;
  const auto file = dir.file("second.yaml");
  write_file(file, gateway_yaml(options("draining"), dir.path().string()));
  child_process second(file);
  const auto port = start_mapigate(second);
  ASSERT_NE(port, 0) << "second mapigate did not start";

  const auto mailbox = mailbox_owned_by(0, 11);
  auto c1 = first.client();
  c1.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", "x"));
  const auto connect = c1.read_response();
  ASSERT_EQ(connect.header("X-BEServer"), "mbx01");
  ASSERT_FALSE(token_of(connect).empty());

  auto c2 = test_client::tls(port, internal_host, test_pki::instance().ca_file());
  c2.send(mapi_request(internal_host, "emsmdb", mailbox, "Execute", "x",
                       "Cookie: " + cookies_from(connect) + "\r\n"));
  const auto execute = c2.read_response();
  EXPECT_EQ(execute.header("X-BEServer"), "mbx01");
  EXPECT_EQ(execute.header("X-ResponseCode"), "0");
}

TEST_F(Affinity, ThreeMailboxesOfOneClientStayOnTheirOwnServers) {
  gateway gw(options());
  auto c = gw.client();
  const std::string mailboxes[] = {mailbox_owned_by(0, 1), mailbox_owned_by(1, 2),
                                   mailbox_owned_by(0, 3)};
  std::vector<std::string> jars, servers;
  for (const auto& m : mailboxes) {
    c.send(mapi_request(internal_host, "emsmdb", m, "Connect", "x"));
    const auto r = c.read_response();
    jars.push_back(cookies_from(r));
    servers.push_back(r.header("X-BEServer"));
  }
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < 3; ++i) {
      // Only this mailbox's own cookies: its context cookie and its token.
      c.send(mapi_request(internal_host, "emsmdb", mailboxes[i], "PING", "",
                          "Cookie: " + jars[i] + "\r\n"));
      const auto r = c.read_response();
      EXPECT_EQ(r.header("X-BEServer"), servers[i]);
      EXPECT_EQ(r.header("X-ResponseCode"), "0");
    }
  }
}

TEST_F(Affinity, BadTokensAreIgnoredNeverObeyed) {
  gateway gw(options());
  const auto mailbox = mailbox_owned_by(1);  // the hash says mbx02; every bad token says mbx01
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const routing::affinity_codec ours({test_affinity_key}, std::chrono::hours(12));
  const routing::affinity_codec foreign({"another-key-of-at-least-32-bytes!!"},
                                        std::chrono::hours(12));
  const auto good = ours.issue("mbx01", mailbox, now);
  std::string flipped = good;
  flipped[flipped.size() / 3] = flipped[flipped.size() / 3] == 'A' ? 'B' : 'A';
  const std::pair<const char*, std::string> bad[] = {
      {"forged", flipped},
      {"truncated", good.substr(0, good.size() - 5)},
      {"expired", ours.issue("mbx01", mailbox, now - 13 * 3600)},
      {"unknown key", foreign.issue("mbx01", mailbox, now)},
      {"other mailbox", ours.issue("mbx01", "someone.else@corp.test", now)},
      {"unknown backend", ours.issue("mbx99", mailbox, now)},
      {"garbage", "%%%not-a-token"},
  };
  for (const auto& [what, token] : bad) {
    SCOPED_TRACE(what);
    auto c = gw.client();
    c.send(mapi_request(internal_host, "emsmdb", mailbox, "PING", "",
                        "Cookie: MapigateAffinity=" + token + "\r\n"));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("X-BEServer"), "mbx02");
  }
  // The good token for comparison is obeyed.
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "PING", "",
                      "Cookie: MapigateAffinity=" + good + "\r\n"));
  EXPECT_EQ(c.read_response().header("X-BEServer"), "mbx01");
  // Each outcome was counted once (decisions are counted before the backend is contacted).
  using routing::affinity_outcome;
  auto count = [&](affinity_outcome o) { return gw.server().affinity_count(int(o)); };
  EXPECT_EQ(count(affinity_outcome::hit), 1u);
  EXPECT_EQ(count(affinity_outcome::bad_signature), 1u);  // forged
  EXPECT_EQ(count(affinity_outcome::expired), 1u);
  EXPECT_EQ(count(affinity_outcome::unknown_key), 1u);
  EXPECT_EQ(count(affinity_outcome::wrong_mailbox), 1u);
  EXPECT_EQ(count(affinity_outcome::unknown_backend), 1u);
  EXPECT_EQ(count(affinity_outcome::malformed), 2u);  // truncated (short MAC), garbage
}

TEST_F(Affinity, OwnerDownNonConnectGets10AndConnectMovesOn) {
  gateway gw(options());
  const auto mailbox = mailbox_owned_by(0);
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", "x"));
  const auto connect = c.read_response();
  ASSERT_EQ(connect.header("X-BEServer"), "mbx01");
  const auto jar = cookies_from(connect);
  a_->stop();  // the mailbox server holding the session dies

  const auto t0 = std::chrono::steady_clock::now();
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Execute", "x", "Cookie: " + jar + "\r\n",
                      "{C715155F-2BE8-44E0-BD34-2960065754C8}:7"));
  const auto execute = c.read_response();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(execute.status, 200);
  EXPECT_EQ(execute.header("X-ResponseCode"), "10");
  EXPECT_EQ(execute.header("Content-Type"), "text/html");
  EXPECT_EQ(execute.header("X-RequestType"), "Execute");
  EXPECT_EQ(execute.header("X-RequestId"), "{C715155F-2BE8-44E0-BD34-2960065754C8}:7");
  EXPECT_EQ(b_->requests().size(), 0u);

  // Outlook reconnects: the Connect lands on the healthy server, with a fresh token.
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", "x", "Cookie: " + jar + "\r\n"));
  const auto again = c.read_response();
  EXPECT_EQ(again.header("X-ResponseCode"), "0");
  EXPECT_EQ(again.header("X-BEServer"), "mbx02");
  EXPECT_FALSE(token_of(again).empty());
}

TEST_F(Affinity, ProxyLogonStyleInputsNameNothing) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor canary(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto at = "127.0.0.1:" + std::to_string(canary.local_endpoint().port());
  gateway gw(options());
  const auto mailbox = mailbox_owned_by(1);
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "PING", "",
                      "Cookie: X-BEResource=" + at +
                          "/ecp/proxyLogon.ecp?a=~1942062522; a=b\r\n"
                          "X-AnchorMailbox: ServerInfo~" +
                          at +
                          "/autodiscover/autodiscover.xml?\r\n"
                          "X-BEResource: " +
                          at + "\r\n"));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-BEServer"), "mbx02");  // routed by the mailbox, as always
  canary.non_blocking(true);
  boost::system::error_code ec;
  boost::asio::ip::tcp::socket s(io);
  canary.accept(s, ec);
  EXPECT_EQ(ec, boost::asio::error::would_block) << "something connected to the canary";
  // The X-BEResource cookie is taken out; the client's other cookie passes.
  const auto rec = b_->requests().back();
  for (const auto& h : rec.headers)
    if (h.name == "Cookie") {
      EXPECT_EQ(h.value, "a=b");
    }
}

}  // namespace
}  // namespace testing_support
