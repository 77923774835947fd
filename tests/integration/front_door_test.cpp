// Outlook's whole front door through mapigate, with real sockets: Autodiscover then MAPI on the
// anchor's server, the MAPI switch steering a mailbox to Outlook Anywhere, both RPC legs on one
// backend streaming both ways past every default timeout, a vdir published on one namespace
// only, one workload's health and drain moving only that workload, the ProxyShell shapes, and
// the HttpProxy folders and metrics per vdir. Behaviour common to both protocols runs over both.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>

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

const std::string alice = "alice@corp.test";
const std::string alice_guid = sim::mailbox_guid_for(alice);

/// Every workload published; EWS and OAB also take Basic (the simulator's tests use it).
const std::string vdirs_yaml =
    "vdirs:\n"
    "  autodiscover:\n"
    "  ews:\n    authentication: [ntlm, negotiate, basic]\n"
    "  oab:\n    authentication: [ntlm, negotiate, basic]\n"
    "  rpc:\n"
    "  activesync:\n"
    "  owa:\n"
    "  ecp:\n";

/// alice lives on mbx02 under both her anchors (SMTP address and MailboxId GUID); everyone
/// else by the pool's hash.
gateway_options front_door(const sim::server& a, const sim::server& b, std::string extra = {}) {
  return {.backends = {{"mbx01", a.port()}, {"mbx02", b.port()}},
          .routes_yaml = "routes:\n  - mailbox: [" + alice + ", " + alice_guid +
                         "@corp.test]\n    backend: mbx02\n  - default: true\n    pool: dag1\n",
          .extra_yaml = vdirs_yaml + extra,
          .listener_alpn = "[h2, http/1.1]"};
}

std::string pox_request(const std::string& email) {
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover "
         "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">"
         "<Request><EMailAddress>" +
         email +
         "</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/"
         "autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>"
         "</Autodiscover>";
}

header_list mapi_fields(const std::string& type) {
  return {{"Content-Type", "application/mapi-http"},
          {"X-RequestType", type},
          {"X-RequestId", "{C715155F-2BE8-44E0-BD34-2960065754C8}:1"},
          {"X-ClientInfo", "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1"}};
}

class FrontDoor : public ::testing::TestWithParam<bool> {  // true: HTTP/2
 protected:
  bool h2() const { return GetParam(); }
  answer send(gateway& gw, const std::string& method, const std::string& target,
              const header_list& fields, const std::string& body = {},
              const std::string& host = external_host) {
    return send_one(h2(), gw, method, target, fields, body, host);
  }
};

std::string protocol_name(const ::testing::TestParamInfo<bool>& tp) {
  return tp.param ? "Http2" : "Http11";
}

// ruler's `abk list` stopped at /autodiscover/autodiscover.xml -> 404. Now: Autodiscover, routed
// by the POX body's EMailAddress (no X-AnchorMailbox), hands out MAPI URLs whose MailboxId
// lands on the same server.
TEST_P(FrontDoor, AutodiscoverThenMapiLandOnTheAnchorsServer) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  temp_dir logs;
  std::string emsmdb;
  {
    auto o = front_door(*a, *b);
    o.logs_yaml = "  directory: " + logs.path().string() + "\n";
    gateway gw(o);
    const auto ad =
        send(gw, "POST", "/Autodiscover/Autodiscover.xml",
             {{"Content-Type", "text/xml"}, {"X-MapiHttpCapability", "1"}}, pox_request(alice));
    ASSERT_EQ(ad.status, 200) << ad.body;
    EXPECT_EQ(ad.header("X-BEServer"), "mbx02");
    EXPECT_NE(ad.body.find("<Protocol Type=\"mapiHttp\" Version=\"1\">"), std::string::npos);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(ad.body, m,
                                  std::regex("<ExternalUrl>https://[^/<]+(/mapi/emsmdb/"
                                             "\\?MailboxId=[^<]+)</ExternalUrl>")))
        << ad.body;
    emsmdb = m[1];
    EXPECT_NE(emsmdb.find(alice_guid), std::string::npos) << emsmdb;
    const auto connect = send(gw, "POST", emsmdb, mapi_fields("Connect"), "x");
    EXPECT_EQ(connect.status, 200);
    EXPECT_EQ(connect.header("X-ResponseCode"), "0");
    EXPECT_EQ(connect.header("X-BEServer"), "mbx02");
    // EWS by X-AnchorMailbox, as Outlook sends it: the same server.
    const auto ews = send(gw, "POST", "/EWS/Exchange.asmx",
                          {{"X-AnchorMailbox", alice}, {"Content-Type", "text/xml"}}, "<soap/>");
    EXPECT_EQ(ews.status, 200);
    EXPECT_EQ(ews.header("X-BEServer"), "mbx02");
  }
  EXPECT_TRUE(a->requests().empty());  // nothing of alice's reached mbx01
  // Each in its protocol's folder, with its anchor as Exchange logs it.
  const auto autodiscover = http_proxy_rows(logs.path(), "Autodiscover");
  ASSERT_EQ(autodiscover.size(), 1u);
  EXPECT_EQ(autodiscover[0].at("AnchorMailbox"), "Smtp~" + alice);
  EXPECT_EQ(autodiscover[0].at("RoutingHint"), "AutodiscoverRequest-SMTP");
  EXPECT_EQ(autodiscover[0].at("TargetServer"), "mbx02");
  EXPECT_EQ(autodiscover[0].at("Protocol"), "Autodiscover");
  const auto mapi = http_proxy_rows(logs.path(), "Mapi");
  ASSERT_EQ(mapi.size(), 1u);
  EXPECT_EQ(mapi[0].at("AnchorMailbox"), "MailboxGuid~" + alice_guid);
  EXPECT_EQ(mapi[0].at("RoutingHint"), "Url-MailboxGuidWithDomain");
  const auto ews = http_proxy_rows(logs.path(), "Ews");
  ASSERT_EQ(ews.size(), 1u);
  EXPECT_EQ(ews[0].at("RoutingHint"), "AnchorMailboxHeader-SMTP");
}

// Set-CasMailbox alice -MapiHttpEnabled $false: her Autodiscover reaches the server without
// X-MapiHttpCapability, so the answer offers Outlook Anywhere only; /mapi says 16 if tried.
TEST_P(FrontDoor, MapiSwitchedOffSteersTheMailboxToOutlookAnywhere) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw(front_door(*a, *b,
                        "mailboxes:\n  - mailbox: [" + alice + ", " + alice_guid +
                            "@corp.test]\n    mapi_http_enabled: false\n"));
  const auto ad =
      send(gw, "POST", "/autodiscover/autodiscover.xml",
           {{"X-AnchorMailbox", alice}, {"X-MapiHttpCapability", "1"}}, pox_request(alice));
  ASSERT_EQ(ad.status, 200);
  EXPECT_EQ(ad.body.find("mapiHttp"), std::string::npos) << ad.body;
  EXPECT_NE(ad.body.find("<Type>EXPR</Type>"), std::string::npos) << ad.body;
  const auto seen = b->requests();
  ASSERT_FALSE(seen.empty());
  for (const auto& h : seen.back().headers)
    EXPECT_FALSE(routing::iequals(h.name, "X-MapiHttpCapability")) << h.value;
  // Another mailbox keeps MAPI over HTTP.
  const auto bob = send(gw, "POST", "/autodiscover/autodiscover.xml",
                        {{"X-MapiHttpCapability", "1"}}, pox_request("bob@corp.test"));
  EXPECT_NE(bob.body.find("mapiHttp"), std::string::npos);
  // A client that still tries /mapi: X-ResponseCode 16, without a backend.
  const auto tried = send(gw, "POST", "/mapi/emsmdb/?MailboxId=" + alice_guid + "@corp.test",
                          mapi_fields("Connect"), "x");
  EXPECT_EQ(tried.header("X-ResponseCode"), "16");
}

TEST_P(FrontDoor, AVdirPublishedInternallyIsNotFoundOutside) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw(front_door(*a, *b));
  EXPECT_EQ(send(gw, "GET", "/ecp/", {}, {}, internal_host).status, 200);
  EXPECT_EQ(send(gw, "GET", "/ecp/", {}, {}, external_host).status, 404);
  EXPECT_EQ(send(gw, "GET", "/ecp/healthcheck.htm", {}, {}, external_host).status, 404);
  EXPECT_EQ(send(gw, "POST", "/PowerShell/", {}, {}, internal_host).status, 404);  // unpublished
  // Paths that could mean something else at the backend, and ProxyShell's query.
  EXPECT_EQ(send(gw, "GET", "/owa/%2e%2e/ecp/", {}).status, 400);
  EXPECT_EQ(send(gw, "GET",
                 "/autodiscover/autodiscover.json?@evil.test/mapi/nspi/"
                 "?&Email=autodiscover/autodiscover.json%3F@evil.test",
                 {})
                .status,
            400);
  // ActiveSync and OWA's forms login reach a backend.
  const auto eas = send(gw, "OPTIONS", "/Microsoft-Server-ActiveSync?User=alice&DeviceId=X", {});
  EXPECT_EQ(eas.status, 200);
  EXPECT_FALSE(eas.header("MS-ASProtocolVersions").empty());
  EXPECT_EQ(
      send(gw, "POST", "/owa/auth.owa", {{"Content-Type", "application/x-www-form-urlencoded"}},
           "username=alice&password=x")
          .status,
      302);
  for (const auto& r : a->requests())
    EXPECT_FALSE(r.target.starts_with("/autodiscover/autodiscover.json?@")) << r.target;
  for (const auto& r : b->requests())
    EXPECT_FALSE(r.target.starts_with("/autodiscover/autodiscover.json?@")) << r.target;
}

// A backend up for MAPI and failing for EWS: EWS requests move, MAPI stays; mapigate's own
// /EWS/healthcheck.htm follows; the admin API cordons one workload.
TEST_P(FrontDoor, OneWorkloadsHealthAndDrainMoveOnlyThatWorkload) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw(
      front_door(*a, *b, "health:\n  interval: 50ms\n  timeout: 40ms\n  rise: 1\n  fall: 1\n"));
  const std::string anchor = "carol@corp.test";  // on the pool: hashed
  auto ews = [&] {
    return send(gw, "POST", "/EWS/Exchange.asmx", {{"X-AnchorMailbox", anchor}}, "<soap/>")
        .header("X-BEServer");
  };
  auto mapi = [&] {
    return send(gw, "POST", "/mapi/emsmdb/?MailboxId=" + anchor, mapi_fields("PING"), "")
        .header("X-BEServer");
  };
  const auto owner = ews();
  ASSERT_EQ(mapi(), owner);
  auto& owner_sim = owner == "mbx01" ? *a : *b;
  const std::string other = owner == "mbx01" ? "mbx02" : "mbx01";
  owner_sim.set_vdir_healthy("ews", false);
  // GET /backends: the owner's EWS check is down.
  auto ews_down = [&] {
    const auto body = admin_call(gw.admin_port(), "GET", "/backends").body;
    const auto at = body.find("{\"name\":\"" + owner + "\"");
    const auto next = body.find("{\"name\":", at + 1);
    const auto ews_at = body.find("\"ews\":{\"health\":\"down\"", at);
    return ews_at != std::string::npos && ews_at < next;
  };
  ASSERT_TRUE(eventually(ews_down)) << admin_call(gw.admin_port(), "GET", "/backends").body;
  EXPECT_EQ(ews(), other);
  EXPECT_EQ(mapi(), owner);
  EXPECT_EQ(send(gw, "GET", "/EWS/healthcheck.htm", {}).status, 200);  // the other one passes
  const auto m = metrics_text(gw.admin_port());
  EXPECT_EQ(sample(m, R"(mapigate_backend_vdir_up{backend=")" + owner + R"(",vdir="ews"})"), 0);
  EXPECT_EQ(sample(m, R"(mapigate_backend_vdir_up{backend=")" + owner + R"(",vdir="oab"})"), 1);
  owner_sim.set_vdir_healthy("ews", true);
  ASSERT_TRUE(eventually([&] { return ews() == owner; }));
  // Set-ServerComponentState for one protocol: cordon the owner for EWS alone.
  ASSERT_EQ(admin_call(gw.admin_port(), "POST", "/backends/" + owner + "/vdirs/ews/cordon").status,
            200);
  EXPECT_EQ(ews(), other);
  EXPECT_EQ(mapi(), owner);
  EXPECT_EQ(admin_call(gw.admin_port(), "POST", "/backends/" + owner + "/vdirs/nope/cordon").status,
            404);
  ASSERT_EQ(
      admin_call(gw.admin_port(), "POST", "/backends/" + owner + "/vdirs/ews/uncordon").status,
      200);
  EXPECT_EQ(ews(), owner);
}

// Outlook Anywhere needs HTTP/1.1 (declared lengths, connection-bound NTLM): on HTTP/2 the
// stream is refused with HTTP_1_1_REQUIRED, as Windows does, and nothing reaches a backend.
TEST(FrontDoorH2, OutlookAnywhereIsRefusedWithHttp11Required) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw(front_door(*a, *b));
  const auto r =
      send_one(true, gw, "RPC_IN_DATA", "/rpc/rpcproxy.dll?" + alice_guid + "@corp.test:6001",
               {{"Content-Length", "0"}}, {}, external_host);
  EXPECT_EQ(r.reset, 0xdu);  // HTTP_1_1_REQUIRED
  EXPECT_TRUE(a->requests().empty());
  EXPECT_TRUE(b->requests().empty());
}

INSTANTIATE_TEST_SUITE_P(Protocols, FrontDoor, ::testing::Bool(), protocol_name);

/// One Outlook Anywhere leg on its own connection: NTLM's two legs (Content-Length 0), then
/// the channel itself on the authenticated connection, as Outlook sends them.
test_client open_leg(gateway& gw, const std::string& method, const std::string& target,
                     std::uint64_t declared) {
  auto c = gw.client(external_host);
  auto leg = [&](const std::string& auth, std::uint64_t length) {
    c.send(method + " " + target + " HTTP/1.1\r\nHost: " + external_host +
           "\r\nUser-Agent: MSRPC\r\nAccept: application/rpc\r\nContent-Type: application/rpc\r\n" +
           (auth.empty() ? "" : "Authorization: NTLM " + auth + "\r\n") +
           "Content-Length: " + std::to_string(length) + "\r\n\r\n");
  };
  leg(sim::ntlm_type1_b64(), 0);
  const auto challenge = c.read_response();
  EXPECT_EQ(challenge.status, 401);
  leg(sim::ntlm_type3_b64("CORP", "alice"), declared);
  return c;
}

// NTLM without X-AnchorMailbox (curl, ruler): the type 1 leg has no body to anchor it, the
// type 3 leg has the POX body naming a mailbox on another server. The type 3 must answer the
// server that sent the challenge, or the logon fails.
TEST(FrontDoorH1, AutodiscoverOverNtlmAnswersTheChallengingServer) {
  sim::options so;
  so.require_auth = true;
  auto a = start_sim("mbx01", so);
  auto b = start_sim("mbx02", so);
  auto o = front_door(*a, *b);
  o.pools_yaml = "pools:\n  - name: dag1\n    members: [mbx01]\n";  // alice alone is on mbx02
  gateway gw(o);
  auto c = gw.client(external_host);
  auto leg = [&](const std::string& auth, const std::string& body) {
    c.send("POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: " + std::string(external_host) +
           "\r\nContent-Type: text/xml\r\nX-MapiHttpCapability: 1\r\nAuthorization: NTLM " + auth +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    return c.read_response();
  };
  const auto challenge = leg(sim::ntlm_type1_b64(), "");
  ASSERT_EQ(challenge.status, 401);
  EXPECT_EQ(challenge.header("X-BEServer"), "mbx01");
  const auto settings = leg(sim::ntlm_type3_b64("CORP", "alice"), pox_request(alice));
  EXPECT_EQ(settings.status, 200) << settings.body;
  EXPECT_EQ(settings.header("X-BEServer"), "mbx01");
  EXPECT_NE(settings.body.find("mapiHttp"), std::string::npos);
  EXPECT_TRUE(b->requests().empty());
}

// The POX body read before routing, however the bytes arrive: the head alone, then the body
// in pieces; then the next request on the same connection, and a body split across the head.
TEST(FrontDoorH1, AutodiscoverBodyAnchorHoldsWhateverTheSplit) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  auto o = front_door(*a, *b);
  o.pools_yaml = "pools:\n  - name: dag1\n    members: [mbx01]\n";  // only alice on mbx02
  gateway gw(o);
  const auto body = pox_request(alice);
  const std::string head =
      "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: " + std::string(external_host) +
      "\r\nContent-Type: text/xml\r\n" + "Content-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  auto c = gw.client(external_host);
  for (const std::size_t piece : {std::size_t(1), std::size_t(7), std::size_t(100), body.size()}) {
    c.send(head);
    for (std::size_t at = 0; at < body.size(); at += piece) {
      std::this_thread::sleep_for(std::chrono::milliseconds(piece == 1 ? 0 : 5));
      c.send(body.substr(at, piece));
    }
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 200) << piece;
    EXPECT_EQ(r.header("X-BEServer"), "mbx02") << piece;  // routed by the body's EMailAddress
  }
  // Head and body in one write, then a request with a body that is not XML at all: routed by
  // the client (mbx01), and the connection serves it whole.
  c.send(head + body);
  EXPECT_EQ(c.read_response().header("X-BEServer"), "mbx02");
  const std::string junk = "<<<not xml";
  c.send("POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: " + std::string(external_host) +
         "\r\nContent-Length: " + std::to_string(junk.size()) + "\r\n\r\n" + junk);
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 400);  // the simulator: no EMailAddress
  EXPECT_EQ(r.header("X-BEServer"), "mbx01");
  const auto got = b->requests();
  ASSERT_EQ(got.size(), 5u);
  for (const auto& req : got)
    EXPECT_EQ(req.body, body);  // every byte, once
}

// RPC_IN_DATA and RPC_OUT_DATA: two long-lived HTTP/1.1 connections, 1 GiB declared, streamed
// both ways with no buffering; both legs meet alice's server; each is pinned to its NTLM
// connection; quiet for longer than every default deadline (which this test shortens), they
// stay open by the rpc vdir's own idle timeout.
TEST(OutlookAnywhere, BothLegsMeetOneServerAndStreamBothWaysPastTheDefaultDeadlines) {
  sim::options so;
  so.require_auth = true;
  auto a = start_sim("mbx01", so);
  auto b = start_sim("mbx02", so);
  auto o = front_door(*a, *b);
  o.timeouts = {{"body_idle", "200ms"}, {"upstream_idle", "200ms"}, {"keepalive_idle", "200ms"}};
  // alice's MAPI over HTTP is off: Outlook Anywhere carries her session.
  o.extra_yaml = vdirs_yaml + "mailboxes:\n  - mailbox: [" + alice + ", " + alice_guid +
                 "@corp.test]\n    mapi_http_enabled: false\n";
  o.extra_yaml.replace(o.extra_yaml.find("  rpc:\n"), 7, "  rpc:\n    idle_timeout: 10s\n");
  gateway gw(o);
  const std::string target = "/rpc/rpcproxy.dll?" + alice_guid + "@corp.test:6001";
  const std::string cookie = "0123456789abcdef";  // the virtual connection cookie
  auto out = open_leg(gw, "RPC_OUT_DATA", target, 76);
  out.send(cookie + std::string(76 - cookie.size(), '\0'));
  const auto head = out.read_until("\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_NE(head.find("Content-Length: 1073741824"), std::string::npos) << head;
  EXPECT_NE(head.find("X-BEServer: mbx02"), std::string::npos) << head;
  auto in = open_leg(gw, "RPC_IN_DATA", target, 1ull << 30);
  in.send(cookie);
  for (int round = 0; round < 3; ++round) {
    const std::string data = "rpc-pdu-" + std::to_string(round) + std::string(1000, 'x');
    in.send(data);
    EXPECT_EQ(out.read_exactly(data.size()), data) << "round " << round;
    // Quiet for longer than body_idle, upstream_idle and keepalive_idle: the legs stay.
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  // Both legs reached mbx02, each on one backend connection of its own: the one its NTLM
  // handshake authenticated (pinned to the client connection), never shared.
  std::map<std::string, std::set<std::uint64_t>> connections;  // by method
  for (const auto& r : b->requests())
    connections[r.method].insert(r.connection_id);
  ASSERT_EQ(connections.size(), 2u);
  EXPECT_EQ(connections["RPC_IN_DATA"].size(), 1u);  // challenge and channel: one connection
  EXPECT_EQ(connections["RPC_OUT_DATA"].size(), 1u);
  EXPECT_NE(*connections["RPC_IN_DATA"].begin(), *connections["RPC_OUT_DATA"].begin());
  std::size_t authenticated = 0;
  for (const auto& r : b->requests())
    authenticated += r.identity == "CORP\\alice" ? 1 : 0;
  EXPECT_EQ(authenticated, 2u);
  EXPECT_TRUE(a->requests().empty());
}

}  // namespace
}  // namespace testing_support
