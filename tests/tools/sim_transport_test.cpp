// Simulator tests, HTTP side: NTLM/Basic auth, healthcheck, TLS, robustness and lifecycle.
#include <gtest/gtest.h>

#include <random>

#include "tests/tools/sim_test_client.hpp"
#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/ntlm.hpp"
#include "tools/sim/util.hpp"

namespace {

using namespace std::chrono_literals;
using simtest::client;
using simtest::cookie_jar;
using simtest::mapi_request;
using simtest::response;

sim::options fast_options() {
  sim::options opts;
  opts.pending_period = 50ms;
  opts.notification_wait = 300ms;
  opts.idle_timeout = 10s;
  return opts;
}

std::string auth(std::string_view scheme, std::string_view token) {
  return "Authorization: " + std::string(scheme) + ' ' + std::string(token) + "\r\n";
}

void expect_ntlm_handshake(std::string_view scheme) {
  sim::server server(fast_options());
  server.start();
  client c(server.port());
  response challenge = c.request(
      mapi_request("emsmdb", "Connect", "{N}:1", {}, auth(scheme, sim::ntlm_type1_b64())));
  EXPECT_EQ(challenge.status, 401);
  EXPECT_EQ(challenge.header("X-BEServer"), "mbx01");
  std::string www = challenge.header("WWW-Authenticate");
  ASSERT_EQ(www.rfind(std::string(scheme) + ' ', 0), 0u) << www;
  auto raw = sim::detail::base64_decode(www.substr(scheme.size() + 1));
  ASSERT_TRUE(raw);
  auto type2 = sim::detail::ntlm::parse_challenge(*raw);
  ASSERT_TRUE(type2);
  EXPECT_TRUE(type2->flags & sim::detail::ntlm::negotiate_unicode);
  EXPECT_EQ(type2->target_name, "MAPISIM");

  cookie_jar jar;
  response connect = c.request(mapi_request("emsmdb", "Connect", "{N}:2", {},
                                            auth(scheme, sim::ntlm_type3_b64("CORP", "alice"))));
  EXPECT_EQ(connect.response_code(), 0);
  jar.update(connect);
  // Later requests on the same connection carry no Authorization: the connection is alice's.
  EXPECT_EQ(c.request(mapi_request("emsmdb", "Execute", "{N}:3", jar.header())).response_code(), 0);

  client other(server.port());
  response anonymous = other.request(mapi_request("emsmdb", "Execute", "{N}:4", jar.header()));
  EXPECT_EQ(anonymous.response_code(), 10);  // the context belongs to CORP\alice

  ASSERT_TRUE(server.wait_for_requests(4, 2s));
  auto records = server.requests();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].http_status, 401);
  EXPECT_EQ(records[0].identity, "");
  EXPECT_EQ(records[1].identity, "CORP\\alice");
  EXPECT_EQ(records[2].identity, "CORP\\alice");
  EXPECT_EQ(records[2].connection_id, records[1].connection_id);
  EXPECT_EQ(records[3].identity, "");
  EXPECT_NE(records[3].connection_id, records[1].connection_id);
}

TEST(SimAuth, NtlmHandshakeAuthenticatesTheConnection) {
  expect_ntlm_handshake("NTLM");
}

TEST(SimAuth, NegotiateWithNtlmTokenBehavesTheSame) {
  expect_ntlm_handshake("Negotiate");
}

TEST(SimAuth, Type3WithoutChallengeOnThatConnectionFails) {
  sim::server server(fast_options());
  server.start();
  client first(server.port());
  EXPECT_EQ(first
                .request(mapi_request("emsmdb", "Connect", "{O}:1", {},
                                      auth("NTLM", sim::ntlm_type1_b64())))
                .status,
            401);
  client second(server.port());  // handshake legs split over two connections
  response r = second.request(mapi_request("emsmdb", "Connect", "{O}:2", {},
                                           auth("NTLM", sim::ntlm_type3_b64("CORP", "alice"))));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.all("WWW-Authenticate").size(), 2u);
}

TEST(SimAuth, MalformedType3Is400AndCloses) {
  sim::server server(fast_options());
  server.start();
  client c(server.port());
  c.request(mapi_request("emsmdb", "Connect", "{P}:1", {}, auth("NTLM", sim::ntlm_type1_b64())));
  std::string raw = sim::detail::ntlm::build_authenticate("CORP", "alice", "WS");
  raw[36 + 4] = '\x7f';  // user buffer offset points outside the message
  raw[36 + 5] = '\x7f';
  response r = c.request(mapi_request("emsmdb", "Connect", "{P}:2", {},
                                      auth("NTLM", sim::detail::base64_encode(raw))));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(c.wait_closed(2s));

  client truncated(server.port());
  std::string short_type3 =
      sim::detail::ntlm::build_authenticate("CORP", "alice", "WS").substr(0, 40);
  response t = truncated.request(mapi_request(
      "emsmdb", "Connect", "{P}:3", {}, auth("NTLM", sim::detail::base64_encode(short_type3))));
  EXPECT_EQ(t.status, 400);
}

TEST(SimAuth, RequireAuthAndBasic) {
  sim::options opts = fast_options();
  opts.require_auth = true;
  sim::server server(opts);
  server.start();
  client c(server.port());
  response denied = c.request(mapi_request("emsmdb", "Connect", "{Q}:1"));
  EXPECT_EQ(denied.status, 401);
  auto challenges = denied.all("WWW-Authenticate");
  ASSERT_EQ(challenges.size(), 2u);
  EXPECT_EQ(challenges[0], "NTLM");
  EXPECT_EQ(challenges[1], "Basic realm=\"mbx01\"");

  // The connection stays usable after a 401.
  std::string basic = auth("Basic", sim::detail::base64_encode("alice@example.test:Passw0rd"));
  cookie_jar jar;
  response connect = c.request(mapi_request("emsmdb", "Connect", "{Q}:2", {}, basic));
  EXPECT_EQ(connect.response_code(), 0);
  jar.update(connect);
  std::string bob = auth("Basic", sim::detail::base64_encode("bob:x"));
  EXPECT_EQ(
      c.request(mapi_request("emsmdb", "Execute", "{Q}:3", jar.header(), bob)).response_code(), 10);
  EXPECT_EQ(
      c.request(mapi_request("emsmdb", "Execute", "{Q}:4", jar.header(), basic)).response_code(),
      0);
  // Healthcheck needs no credentials.
  EXPECT_EQ(c.request("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  auto records = server.requests();
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records[1].identity, "alice@example.test");
}

TEST(SimHttp, HeaderNameCaseAndOrderPreserved) {
  sim::server server(fast_options());
  server.start();
  client c(server.port());
  c.request(
      "POST /mapi/emsmdb/?MailboxId=a@b HTTP/1.1\r\nhost: x\r\nx-requesttype: PING\r\n"
      "X-REQUESTID: {R}:1\r\nContent-Type: application/mapi-http\r\nX-Custom-Thing: v\r\n"
      "Content-Length: 0\r\n\r\n");
  ASSERT_TRUE(server.wait_for_requests(1, 2s));
  auto record = server.requests().at(0);
  ASSERT_EQ(record.headers.size(), 6u);
  EXPECT_EQ(record.headers[0].name, "host");
  EXPECT_EQ(record.headers[1].name, "x-requesttype");
  EXPECT_EQ(record.headers[2].name, "X-REQUESTID");
  EXPECT_EQ(record.headers[4].name, "X-Custom-Thing");
  EXPECT_EQ(record.headers[4].value, "v");
  EXPECT_EQ(record.response_code, 0);
}

TEST(SimHttp, Healthcheck) {
  sim::options opts = fast_options();
  opts.name = "mbx07.example.test";
  sim::server server(opts);
  server.start();
  client c(server.port());
  response up = c.request("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(up.status, 200);
  EXPECT_EQ(up.header("Content-Type"), "text/html");
  EXPECT_EQ(up.body, "200 OK<br/>mbx07.example.test");
  EXPECT_EQ(up.header("X-BEServer"), "mbx07.example.test");
  server.set_healthy(false);
  response down = c.request("GET /MAPI/HealthCheck.htm HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.header("X-BEServer"), "mbx07.example.test");
  server.set_healthy(true);
  EXPECT_EQ(c.request("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

TEST(SimHttp, MalformedRequestsGet400AndClose) {
  sim::server server(fast_options());
  server.start();
  for (std::string_view garbage :
       {std::string_view("GARBAGE\r\n\r\n"), std::string_view("GET / HTTX/1.1\r\n\r\n"),
        std::string_view("POST /mapi/emsmdb/ HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
        std::string_view("GET / HTTP/1.1\r\nBad Header\r\n\r\n")}) {
    client c(server.port());
    response r = c.request(garbage);
    EXPECT_EQ(r.status, 400) << garbage;
    EXPECT_EQ(r.header("X-BEServer"), "mbx01");
    EXPECT_TRUE(c.wait_closed(2s)) << garbage;
  }
  client big(server.port());
  response too_large =
      big.request("POST /mapi/emsmdb/ HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\n");
  EXPECT_EQ(too_large.status, 413);
  client huge(server.port());
  std::string header = "GET / HTTP/1.1\r\nX-Long: " + std::string(70000, 'a') + "\r\n\r\n";
  EXPECT_EQ(huge.request(header).status, 431);
  // Still serving.
  client ok(server.port());
  EXPECT_EQ(ok.request(mapi_request("emsmdb", "PING", "{S}:1")).response_code(), 0);
}

TEST(SimHttp, RandomGarbageNeverKillsTheServer) {
  sim::options opts = fast_options();
  opts.require_auth = true;
  sim::server server(opts);
  server.start();
  std::mt19937 random(4242);
  const std::string prefixes[] = {"", "POST /mapi/emsmdb/ HTTP/1.1\r\n",
                                  "POST /mapi/nspi/ HTTP/1.1\r\nAuthorization: NTLM ",
                                  "GET /mapi/healthcheck.htm HTTP/1.1\r\nTransfer-Encoding: "};
  for (int i = 0; i < 60; ++i) {
    client c(server.port());
    std::string junk = prefixes[i % 4];
    std::size_t length = random() % 600;
    for (std::size_t k = 0; k < length; ++k)
      junk.push_back(static_cast<char>(random()));
    c.send(junk + "\r\n\r\n");
    c.close_gracefully();
  }
  client ok(server.port());
  EXPECT_EQ(
      ok.request(mapi_request("emsmdb", "PING", "{W}:1", {}, auth("NTLM", sim::ntlm_type1_b64())))
          .status,
      401);
  EXPECT_EQ(ok.request(mapi_request("emsmdb", "PING", "{W}:2", {},
                                    auth("NTLM", sim::ntlm_type3_b64("CORP", "alice"))))
                .response_code(),
            0);
}

TEST(SimHttp, PipelinedKeepAliveAndExpectContinue) {
  sim::server server(fast_options());
  server.start();
  client c(server.port());
  c.send(mapi_request("emsmdb", "PING", "{T}:1") + mapi_request("emsmdb", "PING", "{T}:2"));
  EXPECT_EQ(c.read_response().header("X-RequestId"), "{T}:1");
  EXPECT_EQ(c.read_response().header("X-RequestId"), "{T}:2");

  c.send(mapi_request("emsmdb", "Connect", "{T}:3", {}, "Expect: 100-continue\r\n"));
  response interim = c.read_head();
  EXPECT_EQ(interim.status, 100);
  response connect = c.read_response();
  EXPECT_EQ(connect.response_code(), 0);

  c.send("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  response last = c.read_response();
  EXPECT_EQ(last.header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(2s));
  EXPECT_TRUE(server.wait_for_connection_closed(1, 2s));
}

TEST(SimTls, ServesMapiOverTlsAndNoticesClose) {
  simtest::temp_certificate cert;
  sim::options opts = fast_options();
  opts.cert_file = cert.cert_file();
  opts.key_file = cert.key_file();
  opts.notification_wait = 60s;
  opts.pending_period = 30s;
  sim::server server(opts);
  server.start();
  cookie_jar jar;
  {
    client c(server.port(), true);
    response connect = c.request(mapi_request("emsmdb", "Connect", "{U}:1"));
    EXPECT_EQ(connect.response_code(), 0);
    EXPECT_EQ(connect.chunks.front(), "PROCESSING\r\n");
    jar.update(connect);
    EXPECT_EQ(c.request("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n").body,
              "200 OK<br/>mbx01");
  }
  for (bool graceful : {true, false}) {
    client c(server.port(), true);
    c.send(mapi_request("emsmdb", "NotificationWait", "{U}:2", jar.header()));
    EXPECT_EQ(c.read_head().response_code(), 0);
    EXPECT_EQ(c.read_chunk(), "PROCESSING\r\n");
    std::uint64_t id = server.connections_accepted();
    if (graceful) {
      c.close_gracefully();
    } else {
      c.close();
    }
    EXPECT_TRUE(server.wait_for_connection_closed(id, 1s)) << "graceful=" << graceful;
  }
  EXPECT_THROW(
      {
        sim::options broken = fast_options();
        broken.cert_file = cert.cert_file();
        sim::server half(broken);
        half.start();
      },
      std::runtime_error);
}

TEST(SimLifecycle, StopClosesEverythingAndIsIdempotent) {
  sim::options opts = fast_options();
  opts.notification_wait = 60s;
  sim::server server(opts);
  server.start();
  EXPECT_NE(server.port(), 0);
  client idle(server.port());
  client waiting(server.port());
  cookie_jar jar;
  jar.update(waiting.request(mapi_request("emsmdb", "Connect", "{V}:1")));
  waiting.send(mapi_request("emsmdb", "NotificationWait", "{V}:2", jar.header()));
  EXPECT_EQ(waiting.read_head().response_code(), 0);
  EXPECT_EQ(server.connections_accepted(), 2u);
  server.stop();
  EXPECT_TRUE(idle.wait_closed(2s));
  EXPECT_TRUE(waiting.wait_closed(2s));
  EXPECT_EQ(server.connections_open(), 0u);
  EXPECT_TRUE(server.connection_closed(1));
  EXPECT_TRUE(server.connection_closed(2));
  server.stop();

  sim::options taken = fast_options();
  taken.port = server.port();
  sim::server first(taken);
  first.start();
  sim::server second(taken);
  EXPECT_THROW(second.start(), std::runtime_error);
}

}  // namespace
