// The request path's behaviour, the same over HTTP/1.1 and HTTP/2 (one parametrised test each,
// so a drift between the two fails here): log columns, passive health, backend errors in the
// log, the health check's reason, ProxyLogon's cookie, GETs on the MAPI vdirs, the two levels of
// backend health, a client leaving a long-poll, and what ResponseBytes counts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "tests/support/admin.hpp"
#include "tests/support/csv.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/one_request.hpp"
#include "tests/support/recording_backend.hpp"
#include "tests/support/sims.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

/// MAPI request fields as Outlook sends them.
header_list mapi_fields(const std::string& type, const std::string& cookie = {}) {
  header_list h = {{"Content-Type", "application/mapi-http"},
                   {"X-RequestType", type},
                   {"X-RequestId", "{C715155F-2BE8-44E0-BD34-2960065754C8}:1"},
                   {"X-ClientInfo", "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1"}};
  if (!cookie.empty()) h.emplace_back("Cookie", cookie);
  return h;
}

class OnePath : public ::testing::TestWithParam<bool> {  // true: HTTP/2
 protected:
  bool h2() const { return GetParam(); }

  /// One request on a fresh connection of the protocol under test.
  answer send(gateway& gw, const std::string& method, const std::string& target,
              const header_list& fields, const std::string& body = {},
              const std::string& host = internal_host) {
    return send_one(h2(), gw, method, target, fields, body, host);
  }
};

std::string protocol_name(const ::testing::TestParamInfo<bool>& tp) {
  return tp.param ? "Http2" : "Http11";
}

/// Every HttpProxy record written under `dir` (the gateway must be gone: its stop flushes).
std::vector<std::map<std::string, std::string>> log_rows(const std::filesystem::path& dir) {
  return http_proxy_rows(dir, "Mapi");
}

/// The record whose X-RequestType (in ClientRequestId) is `type`, or none.
const std::map<std::string, std::string>* row_of(
    const std::vector<std::map<std::string, std::string>>& rows, const std::string& type) {
  for (const auto& r : rows)
    if (r.at("ClientRequestId").find("RT:" + type) != std::string::npos) return &r;
  return nullptr;
}

std::string logs_yaml(const temp_dir& d) {
  return "  directory: " + d.path().string() + "\n";
}

std::string metrics_of(gateway& gw) {
  return metrics_text(gw.admin_port());
}

std::string backend_field(gateway& gw, const std::string& name, const std::string& key) {
  return testing_support::backend_field(gw.admin_port(), name, key);
}

const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";

// Defect: the response that issues the affinity cookie left BackEndCookie empty on HTTP/2.
TEST_P(OnePath, TheAffinityCookieIsInTheBackEndCookieColumn) {
  auto mbx = start_sim("mbx01");
  temp_dir logs;
  {
    gateway gw({.backends = {{"mbx01", mbx->port()}},
                .affinity_key = test_affinity_key,
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    const auto r = send(gw, "POST", path, mapi_fields("Connect"), "connect");
    EXPECT_EQ(r.header("X-ResponseCode"), "0");
    EXPECT_NE(r.cookies().find("MapigateAffinity="), std::string::npos);
  }
  const auto rows = log_rows(logs.path());
  const auto* connect = row_of(rows, "Connect");
  ASSERT_NE(connect, nullptr);
  EXPECT_TRUE(connect->at("BackEndCookie").starts_with("Server~mbx01~~"))
      << connect->at("BackEndCookie");
}

// The client's own columns come from the one walk over the request's fields, on both protocols:
// UserAgent and X-ClientInfo (ClientRequestId's CI part) are the first of their fields, whatever
// the spelling of the name.
TEST_P(OnePath, UserAgentAndClientInfoAreTheFirstOfTheirFields) {
  auto mbx = start_sim("mbx01");
  temp_dir logs;
  const std::string agent = "Microsoft Office/16.0 (Windows NT 10.0; MAPI 16.0.17928; Pro)";
  {
    gateway gw({.backends = {{"mbx01", mbx->port()}},
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    header_list fields = {{"Content-Type", "application/mapi-http"},
                          {"X-RequestType", "Connect"},
                          {"X-RequestId", "{C715155F-2BE8-44E0-BD34-2960065754C8}:1"},
                          {"x-clientinfo", "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1"},
                          {"User-Agent", agent},
                          {"X-CLIENTINFO", "{00000000-0000-0000-0000-000000000000}:9"},
                          {"user-agent", "second agent"}};
    EXPECT_EQ(send(gw, "POST", path, fields, "connect").header("X-ResponseCode"), "0");
  }
  const auto rows = log_rows(logs.path());
  const auto* connect = row_of(rows, "Connect");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ(connect->at("UserAgent"), agent);
  EXPECT_NE(connect->at("ClientRequestId").find("CI:{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1"),
            std::string::npos)
      << connect->at("ClientRequestId");
  EXPECT_EQ(connect->at("ClientRequestId").find("{00000000"), std::string::npos)
      << connect->at("ClientRequestId");
}

// Defects: a backend failing before its response head counted toward ejection on HTTP/2 only,
// and a backend failing mid-request reached GenericErrors on HTTP/2 only.
TEST_P(OnePath, BackendFailuresCountTowardEjectionAndReachTheLog) {
  recording_backend closer(recording_backend::behaviour::close_on_head);
  temp_dir logs;
  {
    gateway gw({.backends = {{"mbx01", closer.port()}},
                .extra_yaml = "health:\n  active: false\n  eject_after: 2\n  eject_for: 60s\n",
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    // Small requests: the backend closes without an answer once the head is in (502).
    for (int i = 0; i < 2; ++i)
      EXPECT_EQ(send(gw, "POST", path, mapi_fields("PING"), "").status, 502);
    EXPECT_TRUE(eventually([&] {
      return metrics_of(gw).find(R"(mapigate_backend_ejections_total{backend="mbx01"} 1)") !=
             std::string::npos;
    }));
    // Mid-request: the head is sent, the backend closes, then the body comes.
    const std::string body(256 * 1024, 'x');
    const auto fields = mapi_fields("Execute");
    auto backend_closed = [&] {
      const auto conns = closer.connections();
      return conns.size() == 3 && conns.back().closed;
    };
    if (h2()) {
      h2_test_client c(gw.port(), internal_host, test_pki::instance().ca_file());
      const auto lower = lower_names(fields);
      const auto id = c.request("POST", path, internal_host, lower, body, true);
      ASSERT_TRUE(c.run_until(backend_closed));
      c.release_body(id);
      EXPECT_EQ(c.wait(id).status, 502);
    } else {
      auto c = gw.client();
      std::string raw = "POST " + path + " HTTP/1.1\r\nHost: mail.corp.test\r\n";
      for (const auto& [n, v] : fields)
        raw += n + ": " + v + "\r\n";
      c.send(raw + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
      ASSERT_TRUE(eventually(backend_closed));
      // The rest of the body still comes after the 502: mapigate reads it away (lingering
      // close), so the answer is not lost to a reset.
      for (std::size_t at = 0; at < body.size(); at += 16 * 1024)
        c.send(std::string_view(body).substr(at, 16 * 1024));
      EXPECT_EQ(c.read_response().status, 502);
      EXPECT_TRUE(c.wait_closed(3s));
    }
    // One word for how each ended, the same on both protocols.
    EXPECT_TRUE(eventually([&] {
      const auto m = metrics_of(gw);
      return sample(m, R"(mapigate_request_outcomes_total{outcome="backend_error"})") == 2 &&
             sample(m,
                    R"(mapigate_request_outcomes_total{outcome="backend_failed_mid_request"})") ==
                 1;
    })) << metrics_of(gw);
  }
  const auto rows = log_rows(logs.path());
  std::size_t before_head = 0;
  for (const auto& r : rows)
    if (r.at("GenericErrors").find("BackendError") != std::string::npos) ++before_head;
  EXPECT_EQ(before_head, 2u);
  const auto* execute = row_of(rows, "Execute");
  ASSERT_NE(execute, nullptr);
  EXPECT_NE(execute->at("GenericErrors").find("BackendFailedMidRequest"), std::string::npos)
      << execute->at("GenericErrors");
}

// Defects: the health check's 503 reason and the removed X-BEResource cookie were logged on
// HTTP/1.1 only.
TEST_P(OnePath, HealthCheckReasonAndProxyLogonCookieAreInTheRecord) {
  std::uint16_t dead = 0;
  {
    recording_backend gone;
    dead = gone.port();
  }
  auto mbx = start_sim("mbx02");
  temp_dir logs;
  {
    gateway gw({.backends = {{"mbx01", dead}},
                .extra_yaml = "health:\n  interval: 50ms\n  timeout: 40ms\n  fall: 1\n",
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    EXPECT_TRUE(
        eventually([&] { return send(gw, "GET", "/mapi/healthcheck.htm", {}).status == 503; }));
  }
  {
    gateway gw({.backends = {{"mbx02", mbx->port()}},
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    const auto r = send(gw, "POST", path,
                        mapi_fields("PING", "X-BEResource=localhost/ecp/x.js?~1942062522; a=b"));
    EXPECT_EQ(r.header("X-ResponseCode"), "0");
  }
  const auto rows = log_rows(logs.path());
  bool reason = false;
  for (const auto& r : rows)
    if (r.at("HttpStatus") == "503" &&
        r.at("GenericErrors").find("NoBackendReachable") != std::string::npos)
      reason = true;
  EXPECT_TRUE(reason);
  const auto* ping = row_of(rows, "PING");
  ASSERT_NE(ping, nullptr);
  EXPECT_NE(ping->at("GenericErrors").find("XBEResourceCookieRemoved"), std::string::npos)
      << ping->at("GenericErrors");
}

// Defect: GETs on /mapi/emsmdb and /mapi/nspi were answered by mapigate (X-ResponseCode 2).
// Clients open authentication with them and admins check the vdir with them.
TEST_P(OnePath, GetsOnTheMapiVdirsReachTheMailboxServer) {
  sim::options o;
  o.require_auth = true;
  auto mbx = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", mbx->port()}}, .listener_alpn = "[h2, http/1.1]"});
  // The challenge leg: the server's 401 with its schemes.
  const auto challenge = send(gw, "GET", path, {});
  EXPECT_EQ(challenge.status, 401);
  EXPECT_EQ(challenge.header("X-BEServer"), "mbx01");
  EXPECT_FALSE(challenge.header("WWW-Authenticate").empty());
  // Authenticated: Exchange's connectivity page, from the server, with and without MailboxId.
  const header_list basic = {{"Authorization", "Basic dXNlcjFAY29ycC50ZXN0OlBhc3N3MHJk"}};
  for (const std::string& target : {path, std::string("/mapi/nspi/")}) {
    SCOPED_TRACE(target);
    const auto page = send(gw, "GET", target, basic);
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.header("X-BEServer"), "mbx01");
    EXPECT_NE(page.body.find("Exchange MAPI/HTTP Connectivity Endpoint"), std::string::npos);
  }
  // What can never be valid is still refused, the MAPI way, without the server.
  const auto before = mbx->requests().size();
  const auto put = send(gw, "PUT", path, mapi_fields("Execute"), "x");
  EXPECT_EQ(put.status, 200);
  EXPECT_EQ(put.header("X-ResponseCode"), "2");  // Invalid Verb
  EXPECT_EQ(mbx->requests().size(), before);
}

TEST(OnePathH1, NtlmOpensWithAGetThatReachesTheServer) {
  sim::options o;
  o.require_auth = true;
  auto mbx = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", mbx->port()}}});
  auto c = gw.client();
  c.send("GET " + path + " HTTP/1.1\r\nHost: mail.corp.test\r\nAuthorization: NTLM " +
         sim::ntlm_type1_b64() + "\r\n\r\n");
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 401);
  bool ntlm_challenge = false;
  for (const auto& v : r.all("WWW-Authenticate"))
    if (v.starts_with("NTLM ")) ntlm_challenge = true;  // the type 2 message
  EXPECT_TRUE(ntlm_challenge);
  c.send("GET " + path + " HTTP/1.1\r\nHost: mail.corp.test\r\nAuthorization: NTLM " +
         sim::ntlm_type3_b64("CORP", "alice") + "\r\n\r\n");
  const auto page = c.read_response();
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("CORP\\alice"), std::string::npos);
}

// Defect: a backend failing its health check (as every MAPI server without Exchange's page
// does) refused every request of its sessions with X-ResponseCode 10: a reconnect loop. A
// failing check drains; only a backend that cannot be reached is down.
TEST_P(OnePath, AFailingCheckDrainsAndOnlyAnUnreachableBackendEndsSessions) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw({.backends = {{"mbx01", a->port()}, {"mbx02", b->port()}},
              .affinity_key = test_affinity_key,
              .extra_yaml = "health:\n  interval: 50ms\n  timeout: 40ms\n  rise: 1\n  fall: 1\n",
              .listener_alpn = "[h2, http/1.1]"});
  // A session on each server (mailboxes found by where their Connect lands).
  std::map<std::string, std::pair<std::string, std::string>> sessions;  // server → mailbox, jar
  for (int i = 0; i < 40 && sessions.size() < 2; ++i) {
    const auto mailbox = "m" + std::to_string(i) + "@corp.test";
    const auto r =
        send(gw, "POST", "/mapi/emsmdb/?MailboxId=" + mailbox, mapi_fields("Connect"), "connect");
    sessions.emplace(r.header("X-BEServer"), std::pair{mailbox, r.cookies()});
  }
  ASSERT_EQ(sessions.size(), 2u);
  const auto& [mailbox, jar] = sessions.at("mbx01");
  const std::string target = "/mapi/emsmdb/?MailboxId=" + mailbox;

  a->set_healthy(false);  // its check fails: it answers, but not 200
  ASSERT_TRUE(eventually([&] { return backend_field(gw, "mbx01", "health") == "\"down\""; }));
  EXPECT_EQ(backend_field(gw, "mbx01", "reachable"), "true");
  // Its session stays.
  const auto execute = send(gw, "POST", target, mapi_fields("Execute", jar), "rops");
  EXPECT_EQ(execute.header("X-ResponseCode"), "0");
  EXPECT_EQ(execute.header("X-BEServer"), "mbx01");
  // A new session of the same mailbox goes elsewhere while there is elsewhere.
  const auto reconnect = send(gw, "POST", target, mapi_fields("Connect"), "connect");
  EXPECT_EQ(reconnect.header("X-ResponseCode"), "0");
  EXPECT_EQ(reconnect.header("X-BEServer"), "mbx02");
  // When every server fails its check, they still take sessions (drained, not down).
  b->set_healthy(false);
  ASSERT_TRUE(eventually([&] { return backend_field(gw, "mbx02", "health") == "\"down\""; }));
  EXPECT_EQ(send(gw, "POST", target, mapi_fields("Connect"), "c").header("X-ResponseCode"), "0");
  EXPECT_EQ(send(gw, "GET", "/mapi/healthcheck.htm", {}).status, 200);

  // Unreachable: now its sessions are sent to reconnect, at once.
  a->stop();
  ASSERT_TRUE(eventually([&] { return backend_field(gw, "mbx01", "reachable") == "false"; }));
  const auto lost = send(gw, "POST", target, mapi_fields("Execute", jar), "rops");
  EXPECT_EQ(lost.header("X-ResponseCode"), "10");
  EXPECT_EQ(lost.header("X-BEServer"), "");  // answered by mapigate
}

// Defect: a NotificationWait the client ends was logged as a backend failure on HTTP/1.1; and
// ResponseBytes counted chunk framing on HTTP/1.1 but only the body on HTTP/2.
TEST_P(OnePath, AClientEndingALongPollIsNotABackendFailureAndResponseBytesIsTheBody) {
  sim::options o;
  o.pending_period = 3s;  // the client leaves while mapigate waits for the next PENDING
  o.notification_wait = 10s;
  auto mbx = start_sim("mbx01", o);
  temp_dir logs;
  std::size_t execute_body = 0;
  {
    gateway gw({.backends = {{"mbx01", mbx->port()}},
                .extra_yaml = "health:\n  active: false\n  eject_after: 1\n",
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    const auto connect = send(gw, "POST", path, mapi_fields("Connect"), "connect");
    const auto execute = send(gw, "POST", path, mapi_fields("Execute", connect.cookies()), "rops");
    EXPECT_EQ(execute.header("X-ResponseCode"), "0");
    execute_body = execute.body.size();
    // A long-poll, left by its client once PROCESSING is relayed: mapigate then waits for the
    // backend's first PENDING.
    const auto fields = mapi_fields("NotificationWait", connect.cookies());
    mbx->clear_records();
    if (h2()) {
      h2_test_client c(gw.port(), internal_host, test_pki::instance().ca_file());
      const auto lower = lower_names(fields);
      const auto id = c.request("POST", path, internal_host, lower, "nw");
      ASSERT_TRUE(
          c.run_until([&] { return c.get(id).body.find("PROCESSING") != std::string::npos; }));
      c.reset(id);
      ASSERT_TRUE(c.flush());
    } else {
      auto c = gw.client();
      std::string raw = "POST " + path + " HTTP/1.1\r\nHost: mail.corp.test\r\n";
      for (const auto& [n, v] : fields)
        raw += n + ": " + v + "\r\n";
      c.send(raw + "Content-Length: 2\r\n\r\nnw");
      ASSERT_TRUE(mbx->wait_for_writes(1, 5s));                       // PROCESSING is out
      ASSERT_TRUE(eventually([&] { return c.unread_bytes() > 0; }));  // relayed to us
      c.abort();
    }
    // The backend was not blamed: not ejected after the client left (eject_after is 1).
    EXPECT_TRUE(eventually([&] {
      return metrics_of(gw).find(R"(mapigate_requests_in_flight 0)") != std::string::npos;
    }));
    EXPECT_EQ(backend_field(gw, "mbx01", "ejected"), "false");
    const auto m = metrics_of(gw);
    EXPECT_EQ(sample(m, R"(mapigate_request_outcomes_total{outcome="client_disconnected"})"), 1);
    EXPECT_EQ(sample(m, R"(mapigate_request_outcomes_total{outcome="completed"})"), 2);
    EXPECT_EQ(
        sample(m, R"(mapigate_request_outcomes_total{outcome="backend_failed_mid_response"})"), 0);
  }
  const auto rows = log_rows(logs.path());
  const auto* nw = row_of(rows, "NotificationWait");
  ASSERT_NE(nw, nullptr);
  EXPECT_NE(nw->at("GenericErrors").find("ClientDisconnected"), std::string::npos)
      << nw->at("GenericErrors");
  EXPECT_EQ(nw->at("GenericErrors").find("Backend"), std::string::npos) << nw->at("GenericErrors");
  const auto* ex = row_of(rows, "Execute");
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(ex->at("ResponseBytes"), std::to_string(execute_body));
}

// The request policy is one function for both codecs: the same request is refused the same way,
// with the same status, X-ResponseCode, GenericErrors reason and outcome, whichever protocol
// carried it; nothing reaches the backend.
TEST_P(OnePath, ARefusalIsTheSameOnBothProtocols) {
  recording_backend backend;
  temp_dir logs;
  struct refused {
    std::string name, method, target, host;
    header_list fields;
    std::string body;
    int status;
    std::string code;  ///< X-ResponseCode, "" for none
    std::string reason;
  };
  const std::vector<refused> cases = {
      {"NoSuchVdir", "GET", "/owa/", internal_host, {}, "", 404, "", ""},
      {"WrongHost", "POST", path, "evil.test", mapi_fields("Execute"), "x", 421, "", ""},
      {"Expectation", "POST", path, internal_host,
       [] {
         auto f = mapi_fields("Execute");
         f.emplace_back("Expect", "something-else");
         return f;
       }(),
       "x", 200, "4", "unsupported expectation"},
      {"TooLarge", "POST", path, internal_host, mapi_fields("Execute"), std::string(64, 'x'), 200,
       "9", "request body larger than the limit"},
  };
  {
    gateway gw({.backends = {{"mbx01", backend.port()}},
                .limits = {{"mapi_body_bytes", "32"}},
                .extra_yaml = "health:\n  active: false\n",
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    for (const auto& c : cases) {
      const auto a = send(gw, c.method, c.target, c.fields, c.body, c.host);
      EXPECT_EQ(a.status, c.status) << c.name;
      EXPECT_EQ(a.header("X-ResponseCode"), c.code) << c.name;
    }
    EXPECT_EQ(backend.connections().size(), 0u);
    EXPECT_TRUE(eventually([&] {
      return sample(metrics_of(gw), R"(mapigate_request_outcomes_total{outcome="refused"})") ==
             double(cases.size());
    })) << metrics_of(gw);
  }
  const auto rows = log_rows(logs.path());
  for (const auto& c : cases) {
    if (c.reason.empty()) continue;
    bool found = false;
    for (const auto& r : rows)
      found = found || r.at("GenericErrors").find(c.reason) != std::string::npos;
    EXPECT_TRUE(found) << c.name;
  }
}

// Expect: 100-continue, on both protocols: the client is told to send its body (an interim 100),
// and the request then goes to the backend whole, without the expectation.
TEST_P(OnePath, AnExpectContinueRequestIsToldToSendItsBody) {
  recording_backend backend;
  gateway gw({.backends = {{"mbx01", backend.port()}},
              .extra_yaml = "health:\n  active: false\n",
              .listener_alpn = "[h2, http/1.1]"});
  auto fields = mapi_fields("Execute");
  fields.emplace_back("Expect", "100-continue");
  const std::string body = "rops";
  if (h2()) {
    h2_test_client c(gw.port(), internal_host, test_pki::instance().ca_file());
    const auto id = c.request("POST", path, internal_host, lower_names(fields), body, true);
    ASSERT_TRUE(c.run_until([&] { return !c.get(id).interim.empty(); }));
    EXPECT_EQ(c.get(id).interim.front(), 100);
    c.release_body(id);
    EXPECT_EQ(c.wait(id).status, 200);
  } else {
    auto c = gw.client();
    std::string raw = "POST " + path + " HTTP/1.1\r\nHost: " + internal_host + "\r\n";
    for (const auto& [n, v] : fields)
      raw += n + ": " + v + "\r\n";
    c.send(raw + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    EXPECT_EQ(c.read_response().status, 100);
    c.send(body);
    EXPECT_EQ(c.read_response().status, 200);
  }
  ASSERT_TRUE(backend.wait_answered(1, 5s));
  const auto seen = parse_requests(backend.connections().front().bytes);
  ASSERT_EQ(seen.requests.size(), 1u);
  EXPECT_EQ(seen.requests[0].body, body);
  EXPECT_EQ(seen.requests[0].header("Expect"), "");
}

// A HEAD on the MAPI vdirs (forwarded, as GET is): the answer ends with its head, on both
// protocols, whatever Content-Length it names. A backend that sends a body anyway (this one
// answers every request with "ok") leaves bytes after the response: its connection is not used
// again, so they can never be read as the start of another client's response.
TEST_P(OnePath, AHeadResponseEndsWithItsHeadAndStrayBytesRetireTheConnection) {
  recording_backend backend;
  gateway gw({.backends = {{"mbx01", backend.port()}},
              .extra_yaml = "health:\n  active: false\n",
              .listener_alpn = "[h2, http/1.1]"});
  if (h2()) {
    h2_test_client c(gw.port(), internal_host, test_pki::instance().ca_file());
    const auto& head = c.wait(c.request("HEAD", path, internal_host));
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(c.wait(c.request("GET", path, internal_host)).body, "ok");
  } else {
    auto c = gw.client();
    c.send("HEAD " + path + " HTTP/1.1\r\nHost: " + internal_host + "\r\n\r\n");
    const auto head = c.read_response_to_head();
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), "2");
    // The next response on this connection is the GET's, not the stray "ok".
    c.send("GET " + path + " HTTP/1.1\r\nHost: " + internal_host + "\r\n\r\n");
    const auto get = c.read_response();
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.body, "ok");
  }
  // Two backend connections: the first, with "ok" left unread after the HEAD's answer, retired.
  EXPECT_EQ(backend.connections().size(), 2u);
}

// AuthenticatedUser is the user only once the backend accepted the credentials: a wrong password
// (the backend's 401) or an anonymous request leaves it empty and IsAuthenticated false, so a
// search by user never finds forged names. TargetServer shows the backend's configured FQDN.
TEST_P(OnePath, TheLogNamesOnlyUsersTheBackendAcceptedAndTheServersFqdn) {
  sim::options o;
  o.refused_user = "mallory";  // as a wrong password: 401
  auto mbx = start_sim("mbx01", o);
  temp_dir logs;
  {
    gateway gw({.backends = {{.name = "mbx01",
                              .port = mbx->port(),
                              .yaml = "    fqdn: mbx01.corp.test\n"}},
                .extra_yaml = "health:\n  active: false\n",
                .logs_yaml = logs_yaml(logs),
                .listener_alpn = "[h2, http/1.1]"});
    auto with = [](std::string type, std::string credentials) {
      auto f = mapi_fields(type);
      if (!credentials.empty()) f.emplace_back("Authorization", "Basic " + credentials);
      return f;
    };
    EXPECT_EQ(send(gw, "POST", path, with("Connect", "YWxpY2U6c2VjcmV0"), "c").status, 200);
    EXPECT_EQ(send(gw, "POST", path, with("Bind", "bWFsbG9yeTpndWVzcw=="), "b").status, 401);
    EXPECT_EQ(send(gw, "POST", path, with("PING", ""), "").status, 200);
  }
  const auto rows = log_rows(logs.path());
  const auto* accepted = row_of(rows, "Connect");
  const auto* refused = row_of(rows, "Bind");
  const auto* anonymous = row_of(rows, "PING");
  ASSERT_TRUE(accepted && refused && anonymous);
  EXPECT_EQ(accepted->at("AuthenticatedUser"), "alice");
  EXPECT_EQ(accepted->at("IsAuthenticated"), "true");
  EXPECT_EQ(accepted->at("TargetServer"), "mbx01.corp.test");
  EXPECT_EQ(refused->at("AuthenticationType"), "Basic");
  EXPECT_EQ(refused->at("AuthenticatedUser"), "");
  EXPECT_EQ(refused->at("IsAuthenticated"), "false");
  EXPECT_EQ(refused->at("HttpStatus"), "401");
  EXPECT_EQ(anonymous->at("AuthenticatedUser"), "");
  EXPECT_EQ(anonymous->at("IsAuthenticated"), "false");
  EXPECT_EQ(anonymous->at("HttpStatus"), "200");
}

// An error-ratio alert must not fire on normal logons: a 401 answering no credentials (and,
// on HTTP/1.1, an NTLM type 1) is counted as auth_challenge; a 401 answering credentials (a
// wrong password) stays a 4xx. Bytes to and from clients are counted per vdir.
TEST_P(OnePath, LogonStepsAreCountedApartFromAuthenticationFailures) {
  sim::options o;
  o.require_auth = true;
  o.refused_user = "mallory";  // as a wrong password: 401
  auto mbx = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", mbx->port()}},
              .extra_yaml = "health:\n  active: false\n",
              .listener_alpn = "[h2, http/1.1]"});
  auto with = [](std::string scheme, std::string token) {
    auto f = mapi_fields("Connect");
    if (!scheme.empty()) f.emplace_back("Authorization", scheme + " " + token);
    return f;
  };
  EXPECT_EQ(send(gw, "POST", path, with("", ""), "c").status, 401);
  if (!h2()) {
    EXPECT_EQ(send(gw, "POST", path, with("NTLM", sim::ntlm_type1_b64()), "").status, 401);
  }
  EXPECT_EQ(send(gw, "POST", path, with("Basic", "bWFsbG9yeTpndWVzcw=="), "c").status, 401);
  EXPECT_EQ(send(gw, "POST", path, with("Basic", "YWxpY2U6c2VjcmV0"), "c").status, 200);
  const std::string series =
      R"(mapigate_requests_total{code_class="CLASS",mapi_namespace="internal",request_type="Connect",vdir="emsmdb"})";
  auto count = [&](const std::string& m, const char* cls) {
    return sample(m, std::regex_replace(series, std::regex("CLASS"), cls));
  };
  std::string m;
  ASSERT_TRUE(eventually([&] {
    m = metrics_of(gw);
    return count(m, "2xx") == 1;
  })) << m;
  EXPECT_EQ(count(m, "auth_challenge"), h2() ? 1 : 2);
  EXPECT_EQ(count(m, "4xx"), 1);
  EXPECT_GT(sample(m, R"(mapigate_request_bytes_total{vdir="emsmdb"})"), 4 * 3);
  EXPECT_GT(sample(m, R"(mapigate_response_bytes_total{vdir="emsmdb"})"), 0);
}

// A body in thousands of small pieces (HTTP/2: 7-byte DATA frames sent in one write, so one read
// queues about a thousand of them on the stream before any goes on; HTTP/1.1: a write per 7
// bytes) reaches the backend whole and in order, and the pooled backend connection then carries
// the next request of the same client, framed on its own.
TEST_P(OnePath, ABodyInThousandsOfSmallPiecesArrivesWholeAndThePooledConnectionGoesOn) {
  recording_backend backend;
  gateway gw({.backends = {{"mbx01", backend.port()}},
              .extra_yaml = "health:\n  active: false\n",
              .listener_alpn = "[h2, http/1.1]"});
  std::string body;
  for (int i = 0; body.size() < 20000; ++i)
    body += std::to_string(i) + ",";  // every piece distinct: a reordering shows
  const std::string next = "next-body";
  const auto fields = mapi_fields("Execute");
  if (h2()) {
    h2_test_client c(gw.port(), internal_host, test_pki::instance().ca_file());
    c.set_data_frame_size(7);
    const auto id = c.request("POST", path, internal_host, lower_names(fields), body, true);
    ASSERT_TRUE(c.flush());
    c.release_body(id);  // every DATA frame in one write
    EXPECT_EQ(c.wait(id, 10s).status, 200);
    c.set_data_frame_size(16384);
    EXPECT_EQ(c.wait(c.request("POST", path, internal_host, lower_names(fields), next)).status,
              200);
  } else {
    auto c = gw.client();
    auto head = [&](std::size_t length) {
      std::string raw = "POST " + path + " HTTP/1.1\r\nHost: " + internal_host + "\r\n";
      for (const auto& [n, v] : fields)
        raw += n + ": " + v + "\r\n";
      return raw + "Content-Length: " + std::to_string(length) + "\r\n\r\n";
    };
    c.send(head(body.size()));
    for (std::size_t at = 0; at < body.size(); at += 7)
      c.send(std::string_view(body).substr(at, 7));
    EXPECT_EQ(c.read_response().status, 200);
    c.send(head(next.size()) + next);
    EXPECT_EQ(c.read_response().status, 200);
  }
  ASSERT_TRUE(backend.wait_answered(2, 5s));
  const auto conns = backend.connections();
  ASSERT_EQ(conns.size(), 1u) << "the second request went on the pooled connection";
  const auto seen = parse_requests(conns.front().bytes);
  ASSERT_EQ(seen.requests.size(), 2u) << seen.error;
  EXPECT_EQ(seen.requests[0].body, body);
  EXPECT_EQ(seen.requests[1].body, next);
  EXPECT_EQ(seen.rest, "") << "nothing after the second request";
}

// A backend that closes an idle pooled connection (its own keep-alive timeout) or sends an
// answer no one asked for on it: mapigate learns of it from the connection's idle watch, not
// from a probe at reuse. The next request goes on a fresh connection and gets its own answer (no
// 502, not one byte of the unasked answer), and the spoiled connection is closed by mapigate.
TEST_P(OnePath, APooledConnectionTheBackendClosedOrSpokeOnCarriesNoOtherRequest) {
  using mode = recording_backend::behaviour;
  for (const auto m : {mode::close_when_idle, mode::speak_when_idle}) {
    SCOPED_TRACE(m == mode::close_when_idle ? "closed when idle" : "spoke when idle");
    recording_backend backend(m);
    gateway gw({.backends = {{"mbx01", backend.port()}},
                .workers = 1,  // one pool
                .extra_yaml = "health:\n  active: false\n",
                .listener_alpn = "[h2, http/1.1]"});
    const auto fields = mapi_fields("Execute");
    const auto first = send(gw, "POST", path, fields, "first");
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.body, "ok");
    ASSERT_TRUE(eventually([&] { return backend.connections().front().idled_out; }));
    // Spoken on and left alone: the pool's next pass (each second) closes it, unused.
    if (m == mode::speak_when_idle) {
      EXPECT_TRUE(eventually([&] { return backend.connections().front().closed; }, 3s));
    }
    const auto second = send(gw, "POST", path, fields, "second");
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(second.body, "ok");
    ASSERT_TRUE(backend.wait_answered(2, 5s));
    const auto conns = backend.connections();
    ASSERT_EQ(conns.size(), 2u) << "the second request went on a fresh connection";
    for (std::size_t i = 0; i < 2; ++i) {
      const auto seen = parse_requests(conns[i].bytes);
      ASSERT_EQ(seen.requests.size(), 1u) << i << ": " << seen.error;
      EXPECT_EQ(seen.requests[0].body, i == 0 ? "first" : "second");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, OnePath, ::testing::Bool(), protocol_name);

// Requests that OpenSSL took off the socket already are served without waiting for the socket.
// After its look for a next request found nothing, a connection waits for its next ones first
// (parked); two requests then come in two TLS records in one TCP segment, so one read(2) takes
// both and the second stays inside OpenSSL, where no socket wait would ever report it.
TEST(OnePathH1, ARequestHeldInsideOpenSslIsServedWithoutWaitingForTheSocket) {
  recording_backend backend;
  gateway gw({.backends = {{"mbx01", backend.port()}},
              .workers = 1,
              .extra_yaml = "health:\n  active: false\n"});
  auto c = gw.client();
  auto request = [](const std::string& body) {
    return mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", body);
  };
  c.send(request("a"));
  EXPECT_EQ(c.read_response().status, 200);  // then mapigate looks, and finds nothing yet
  c.send_corked({request("b"), request("c")});
  EXPECT_EQ(c.read_response(3s).status, 200);
  EXPECT_EQ(c.read_response(3s).status, 200) << "the request held inside OpenSSL waited";
  ASSERT_TRUE(backend.wait_answered(3, 5s));
  const auto seen = parse_requests(backend.connections().front().bytes);
  ASSERT_EQ(seen.requests.size(), 3u) << seen.error;
  EXPECT_EQ(seen.requests[2].body, "c");
}

// Defect: a keep-alive connection idle across a reload served its next request with the old
// configuration (HTTP/2 connections get GOAWAY on reload and reconnect).
TEST(OnePathH1, ARequestAfterAReloadUsesTheNewConfigurationOnAnIdleConnection) {
  auto mbx = start_sim("mbx01");
  gateway_options opts{.backends = {{"mbx01", mbx->port()}}, .workers = 1};
  gateway gw(opts);
  auto idle = gw.client();
  idle.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(idle.read_response().header("X-ResponseCode"), "0");

  // Set-OrganizationConfig -MapiHttpEnabled $false, then reload.
  opts.mapi_yaml = "  mapi_http_enabled: false\n";
  temp_dir dir;
  const auto file = dir.path() / "reloaded.yaml";
  std::ofstream(file) << gateway_yaml(opts, dir.path().string());
  ASSERT_TRUE(gw.server().reload(file.string()));
  EXPECT_TRUE(eventually([&] {
    auto fresh = gw.client();
    fresh.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
    return fresh.read_response().header("X-ResponseCode") == "16";
  }));
  // The connection that was idle meanwhile: its next request uses the new configuration.
  idle.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(idle.read_response().header("X-ResponseCode"), "16");
}

TEST(OnePathHealth, ChecksFollowEachBackendsOwnPathAndCanBeOff) {
  // Neither server would pass Exchange's check: one publishes another page, one none at all.
  auto custom = start_sim("custom");
  auto off = start_sim("off");
  custom->set_healthy(false);
  off->set_healthy(false);
  gateway gw({.backends = {{.name = "custom",
                            .port = custom->port(),
                            .yaml = "    health_check:\n      path: /custom/status.htm?probe=1\n"
                                    "      status: 404\n      body: Not Found\n"},
                           {.name = "off",
                            .port = off->port(),
                            .yaml = "    health_check:\n"
                                    "      enabled: false\n"}},
              .extra_yaml = "health:\n  interval: 50ms\n  timeout: 40ms\n  rise: 1\n  fall: 1\n"});
  EXPECT_TRUE(eventually([&] {
    return sample(metrics_of(gw),
                  R"(mapigate_health_checks_total{backend="custom",result="pass"})") >= 3;
  }));
  EXPECT_EQ(backend_field(gw, "custom", "health"), "\"up\"");
  EXPECT_EQ(backend_field(gw, "off", "health"), "\"up\"");
  bool checked_own_path = false;
  for (const auto& r : custom->requests()) {
    EXPECT_NE(r.target, "/mapi/healthcheck.htm");
    if (r.method == "GET" && r.target == "/custom/status.htm?probe=1") checked_own_path = true;
  }
  EXPECT_TRUE(checked_own_path);
  EXPECT_TRUE(off->requests().empty());  // never checked
}

TEST(OnePathHealth, ACheckTurnedOffByAReloadForgetsWhatItFound) {
  auto mbx = start_sim("mbx01");
  mbx->set_healthy(false);
  gateway_options opts{
      .backends = {{"mbx01", mbx->port()}},
      .extra_yaml = "health:\n  interval: 50ms\n  timeout: 40ms\n  rise: 1\n  fall: 1\n"};
  gateway gw(opts);
  ASSERT_TRUE(eventually([&] { return backend_field(gw, "mbx01", "health") == "\"down\""; }));
  opts.backends[0].yaml = "    health_check:\n      enabled: false\n";
  temp_dir dir;
  const auto file = dir.path() / "no-check.yaml";
  std::ofstream(file) << gateway_yaml(opts, dir.path().string());
  ASSERT_TRUE(gw.server().reload(file.string()));
  EXPECT_TRUE(eventually([&] { return backend_field(gw, "mbx01", "health") == "\"up\""; }));
}

}  // namespace
}  // namespace testing_support
