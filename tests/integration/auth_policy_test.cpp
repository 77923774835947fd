// NTLM/Negotiate connection pinning, the Exchange admin's MAPI switches, allowed authentication
// schemes, and refusals that speak MAPI.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/support/gateway.hpp"
#include "tests/support/sims.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

TEST(Pinning, NtlmUsersNeverShareABackendConnection) {
  sim::options o;
  o.require_auth = true;
  auto mbx = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", mbx->port()}}, .workers = 1});

  auto alice = gw.client();
  auto bob = gw.client();
  // Interleaved handshakes and requests on two client connections of one worker.
  alice.send(mapi_request(internal_host, "emsmdb", "alice@corp.test", "PING", "",
                          "Authorization: NTLM " + sim::ntlm_type1_b64() + "\r\n"));
  bob.send(mapi_request(internal_host, "emsmdb", "bob@corp.test", "PING", "",
                        "Authorization: NTLM " + sim::ntlm_type1_b64() + "\r\n"));
  EXPECT_EQ(alice.read_response().status, 401);
  EXPECT_EQ(bob.read_response().status, 401);
  alice.send(mapi_request(internal_host, "emsmdb", "alice@corp.test", "PING", "",
                          "Authorization: NTLM " + sim::ntlm_type3_b64("CORP", "alice") + "\r\n"));
  EXPECT_EQ(alice.read_response().status, 200);
  bob.send(mapi_request(internal_host, "emsmdb", "bob@corp.test", "PING", "",
                        "Authorization: NTLM " + sim::ntlm_type3_b64("CORP", "bob") + "\r\n"));
  EXPECT_EQ(bob.read_response().status, 200);
  for (int i = 0; i < 4; ++i) {
    // No Authorization: the connection is authenticated, as with IIS.
    auto& c = i % 2 ? bob : alice;
    c.send(mapi_request(internal_host, "emsmdb", i % 2 ? "bob@corp.test" : "alice@corp.test",
                        "Connect", "x", "X-Who: " + std::string(i % 2 ? "bob" : "alice") + "\r\n"));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.header("X-ResponseCode"), "0") << i;
  }
  EXPECT_TRUE(eventually([&] { return gw.server().pinned_connections() == 2; }))
      << gw.server().pinned_connections();

  // Every request reached the backend under its own user, on that user's own connection.
  std::map<std::string, std::set<std::uint64_t>> conns_of;
  for (const auto& rec : mbx->requests()) {
    std::string who;
    for (const auto& h : rec.headers)
      if (h.name == "X-Who") who = h.value;
    if (who.empty()) continue;
    EXPECT_EQ(rec.identity, "CORP\\" + who);
    conns_of[who].insert(rec.connection_id);
  }
  ASSERT_EQ(conns_of.size(), 2u);
  for (auto id : conns_of["alice"])
    EXPECT_EQ(conns_of["bob"].count(id), 0u);

  // Pinned connections close with their client.
  const auto alice_conn = *conns_of["alice"].begin();
  alice.close_gracefully();
  EXPECT_TRUE(mbx->wait_for_connection_closed(alice_conn, 2s));
  EXPECT_FALSE(mbx->connection_closed(*conns_of["bob"].begin()));
}

TEST(Pinning, BackendIdlingOutAPinnedConnectionMeansANewChallengeNotAnError) {
  sim::options o;
  o.require_auth = true;
  o.idle_timeout = 300ms;  // as IIS closes idle connections, only sooner
  auto mbx = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", mbx->port()}}, .workers = 1});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "alice@corp.test", "PING", "",
                      "Authorization: NTLM " + sim::ntlm_type1_b64() + "\r\n"));
  ASSERT_EQ(c.read_response().status, 401);
  c.send(mapi_request(internal_host, "emsmdb", "alice@corp.test", "PING", "",
                      "Authorization: NTLM " + sim::ntlm_type3_b64("CORP", "alice") + "\r\n"));
  ASSERT_EQ(c.read_response().status, 200);
  const auto conn = mbx->requests().back().connection_id;
  ASSERT_TRUE(mbx->wait_for_connection_closed(conn, 2s));
  // The pinned connection is dead; its replacement is unauthenticated, so the backend challenges
  // again and the client re-authenticates on the same client connection.
  c.send(mapi_request(internal_host, "emsmdb", "alice@corp.test", "PING", ""));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("WWW-Authenticate"), "NTLM");
}

TEST(Pinning, BasicAndAnonymousKeepUsingTheSharedPool) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}, .workers = 1});
  for (int i = 0; i < 3; ++i) {
    // The previous exchange has handed its backend connection back to the pool.
    ASSERT_TRUE(eventually([&] { return gw.server().active_requests() == 0; }));
    auto c = gw.client();
    c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "",
                        i ? "Authorization: Basic dXNlcjpwdw==\r\n" : ""));
    EXPECT_EQ(c.read_response().status, 200);
  }
  EXPECT_EQ(mbx->connections_accepted(), 1u);
  EXPECT_EQ(gw.server().pinned_connections(), 0u);  // nothing could have pinned: no NTLM seen
}

TEST(Policy, DisabledOrganisationOrMailboxGets16WithoutABackend) {
  auto mbx = start_sim("mbx01");
  struct policy_case {
    const char* name;
    std::string mapi_yaml, mailboxes;
    const char* mailbox;
    const char* code;
  };
  const policy_case cases[] = {
      {"organisation off", "  mapi_http_enabled: false\n", "", "u@corp.test", "16"},
      {"mailbox off", "", "mailboxes:\n  - mailbox: u@corp.test\n    mapi_http_enabled: false\n",
       "U@corp.test", "16"},
      {"mailbox on despite organisation", "  mapi_http_enabled: false\n",
       "mailboxes:\n  - mailbox: u@corp.test\n    mapi_http_enabled: true\n", "u@corp.test", "0"},
  };
  for (const auto& pc : cases) {
    SCOPED_TRACE(pc.name);
    mbx->clear_records();
    gateway gw({.backends = {{"mbx01", mbx->port()}},
                .mapi_yaml = pc.mapi_yaml,
                .extra_yaml = pc.mailboxes});
    auto c = gw.client();
    c.send(mapi_request(internal_host, "emsmdb", pc.mailbox, "Connect", "x", "",
                        "{C715155F-2BE8-44E0-BD34-2960065754C8}:3"));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("X-ResponseCode"), pc.code);
    if (std::string(pc.code) == "16") {
      EXPECT_EQ(r.header("Content-Type"), "text/html");
      EXPECT_EQ(r.header("X-RequestType"), "Connect");
      EXPECT_EQ(r.header("X-RequestId"), "{C715155F-2BE8-44E0-BD34-2960065754C8}:3");
      EXPECT_EQ(mbx->requests().size(), 0u);
    }
  }
}

TEST(Policy, DisallowedSchemeGets401OfferingOnlyAllowedOnes) {
  sim::options o;
  o.require_auth = true;  // the simulator offers NTLM and Basic
  auto mbx = start_sim("mbx01", o);
  gateway gw(
      {.backends = {{"mbx01", mbx->port()}}, .mapi_yaml = "  authentication: [ntlm, negotiate]\n"});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x",
                      "Authorization: Basic dXNlcjpwdw==\r\n"));
  auto r = c.read_response();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.all("WWW-Authenticate"), (std::vector<std::string>{"NTLM", "Negotiate"}));
  EXPECT_EQ(mbx->requests().size(), 0u);

  // Anonymous: the backend's challenge comes through without Basic.
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  r = c.read_response();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.all("WWW-Authenticate"), std::vector<std::string>{"NTLM"});
}

TEST(Policy, RefusalsOnMapiVdirsSpeakMapi) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}});
  auto c = gw.client();
  auto raw = mapi_request(internal_host, "nspi", "u@corp.test", "Bind", "");
  raw.replace(0, 4, "PUT");
  c.send(raw);
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-ResponseCode"), "2");  // Invalid Verb
  EXPECT_EQ(r.header("X-RequestType"), "Bind");
  // A POST without a usable MailboxId is a clear 400, as Exchange's front end answers.
  c.send("POST /mapi/emsmdb/ HTTP/1.1\r\nHost: mail.corp.test\r\nContent-Length: 0\r\n\r\n");
  r = c.read_response();
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("MailboxId"), std::string::npos);
  EXPECT_EQ(mbx->requests().size(), 0u);
}

}  // namespace
}  // namespace testing_support
