// Simulator tests, MAPI protocol side: session contexts, cookies, X-ResponseCodes, streaming.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/tools/sim_test_client.hpp"
#include "tools/sim/mapi_sim.hpp"

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

std::size_t count_of(const std::vector<std::string>& chunks, std::string_view payload) {
  return static_cast<std::size_t>(std::count(chunks.begin(), chunks.end(), payload));
}

class SimCookieStyle : public ::testing::TestWithParam<sim::cookie_style> {};

TEST_P(SimCookieStyle, ConnectExecuteDisconnectRoundTrip) {
  sim::options opts = fast_options();
  opts.cookies = GetParam();
  sim::server server(opts);
  server.start();
  const bool mapi = GetParam() == sim::cookie_style::mapi;
  const std::string context_name = mapi ? "MapiContext" : "sid";
  const std::string sequence_name = mapi ? "MapiSequence" : "sequence";

  client c(server.port());
  cookie_jar jar;
  response connect = c.request(mapi_request("emsmdb", "Connect", "{C715155F}:1"));
  EXPECT_EQ(connect.status, 200);
  EXPECT_EQ(connect.response_code(), 0);
  EXPECT_EQ(connect.header("Content-Type"), "application/mapi-http");
  EXPECT_EQ(connect.header("Cache-Control"), "private");
  EXPECT_EQ(connect.header("X-RequestType"), "Connect");
  EXPECT_EQ(connect.header("X-RequestId"), "{C715155F}:1");
  EXPECT_EQ(connect.header("X-ClientInfo"), "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1");
  EXPECT_EQ(connect.header("X-PendingPeriod"), "50");
  EXPECT_EQ(connect.header("X-ExpirationInfo"), "900000");
  EXPECT_EQ(connect.header("X-ServerApplication"), "Exchange/15.02.1544.004");
  EXPECT_EQ(connect.header("X-BEServer"), "mbx01");
  EXPECT_TRUE(connect.chunked);
  ASSERT_EQ(connect.chunks.size(), 2u);
  EXPECT_EQ(connect.chunks[0], "PROCESSING\r\n");
  const std::string& done = connect.chunks[1];
  EXPECT_EQ(done.rfind("DONE\r\nX-ResponseCode: 0\r\nX-ElapsedTime: ", 0), 0u);
  EXPECT_NE(done.find("\r\nX-StartTime: "), std::string::npos);
  std::size_t meta_end = done.find("\r\n\r\n");
  ASSERT_NE(meta_end, std::string::npos);
  std::string body = done.substr(meta_end + 4);
  ASSERT_EQ(body.size(), 64u);
  EXPECT_EQ(body.substr(0, 4), std::string(4, '\0'));
  ASSERT_EQ(connect.all("Set-Cookie").size(), 2u);
  jar.update(connect);
  EXPECT_FALSE(jar.get(context_name).empty());
  std::string first_sequence = jar.get(sequence_name);
  EXPECT_FALSE(first_sequence.empty());

  response execute = c.request(mapi_request("emsmdb", "Execute", "{C715155F}:2", jar.header()));
  EXPECT_EQ(execute.response_code(), 0);
  jar.update(execute);
  EXPECT_NE(jar.get(sequence_name), first_sequence);  // rotated
  response again = c.request(mapi_request("emsmdb", "Execute", "{C715155F}:3", jar.header()));
  EXPECT_EQ(again.response_code(), 0);
  jar.update(again);

  std::string old_cookies = jar.header();
  response disconnect =
      c.request(mapi_request("emsmdb", "Disconnect", "{C715155F}:4", jar.header()));
  EXPECT_EQ(disconnect.response_code(), 0);
  jar.update(disconnect);
  EXPECT_TRUE(jar.get(context_name).empty());  // cookies expired by the server
  response after = c.request(mapi_request("emsmdb", "Execute", "{C715155F}:5", old_cookies));
  EXPECT_EQ(after.response_code(), 10);
  EXPECT_EQ(after.header("Content-Type"), "text/html");

  ASSERT_TRUE(server.wait_for_requests(5, 2s));
  auto records = server.requests();
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].connection_id, 1u);
  EXPECT_EQ(records[0].method, "POST");
  EXPECT_EQ(records[0].target,
            "/mapi/emsmdb/?MailboxId=6a2a8b4c-1d2e-4f00-9a1b-2c3d4e5f6a7b@example.test");
  EXPECT_EQ(records[0].body, std::string("\x01\x02\x03\x04"));
  EXPECT_EQ(records[4].response_code, 10);
  EXPECT_EQ(records[4].http_status, 200);

  // Connect streamed PROCESSING, DONE and the last chunk, each recorded after its write.
  auto writes = server.writes();
  ASSERT_GE(writes.size(), 3u);
  EXPECT_EQ(writes[0].data, "PROCESSING\r\n");
  EXPECT_EQ(writes[0].request_id, "{C715155F}:1");
  EXPECT_EQ(writes[1].data.rfind("DONE\r\n", 0), 0u);
  EXPECT_EQ(writes[2].data, "");
}

INSTANTIATE_TEST_SUITE_P(Styles, SimCookieStyle,
                         ::testing::Values(sim::cookie_style::mapi, sim::cookie_style::sid),
                         [](const auto& style) {
                           return style.param == sim::cookie_style::mapi ? "mapi" : "sid";
                         });

TEST(Sim, NspiBindQueryUnbind) {
  sim::options opts = fast_options();
  opts.cookies = sim::cookie_style::sid;
  sim::server server(opts);
  server.start();
  client c(server.port());
  cookie_jar jar;
  response bind = c.request(mapi_request("nspi", "BIND", "{A}:1"));
  EXPECT_EQ(bind.response_code(), 0);
  EXPECT_EQ(bind.header("X-RequestType"), "BIND");
  jar.update(bind);
  for (const char* type : {"QueryRows", "GetProps", "ResolveNames", "GetAddressBookUrl"}) {
    response r = c.request(mapi_request("nspi", type, "{A}:2", jar.header()));
    EXPECT_EQ(r.response_code(), 0) << type;
    jar.update(r);
  }
  // NSPI contexts are not valid on the emsmdb endpoint.
  EXPECT_EQ(c.request(mapi_request("emsmdb", "Execute", "{A}:3", jar.header())).response_code(),
            10);
  EXPECT_EQ(c.request(mapi_request("nspi", "Unbind", "{A}:4", jar.header())).response_code(), 0);
  EXPECT_EQ(c.request(mapi_request("nspi", "QueryRows", "{A}:5", jar.header())).response_code(),
            10);
}

TEST(Sim, ContextErrors) {
  sim::server server(fast_options());
  server.start();
  client c(server.port());
  EXPECT_EQ(c.request(mapi_request("emsmdb", "Execute", "{B}:1")).response_code(), 13);
  EXPECT_EQ(
      c.request(mapi_request("emsmdb", "Execute", "{B}:2", "MapiContext=nope; MapiSequence=x"))
          .response_code(),
      10);

  cookie_jar jar;
  jar.update(c.request(mapi_request("emsmdb", "Connect", "{B}:3")));
  std::string context = "MapiContext=" + jar.get("MapiContext");
  EXPECT_EQ(c.request(mapi_request("emsmdb", "Execute", "{B}:4", context)).response_code(), 13);
  response wrong = c.request(
      mapi_request("emsmdb", "Execute", "{B}:5", context + "; MapiSequence=not-the-current-one"));
  EXPECT_EQ(wrong.status, 200);
  EXPECT_EQ(wrong.response_code(), 15);
  EXPECT_EQ(wrong.header("Content-Type"), "text/html");
  EXPECT_EQ(wrong.header("X-RequestId"), "{B}:5");
  EXPECT_EQ(wrong.header("X-BEServer"), "mbx01");
  EXPECT_NE(wrong.body.find("Invalid Sequence"), std::string::npos);
  // The context is still usable with the right sequence.
  EXPECT_EQ(c.request(mapi_request("emsmdb", "Execute", "{B}:6", jar.header())).response_code(), 0);
}

TEST(Sim, RequestValidationErrors) {
  sim::server server(fast_options());
  server.start();
  client c(server.port());
  EXPECT_EQ(c.request(mapi_request("emsmdb", "Bind", "{C}:1")).response_code(), 5);
  EXPECT_EQ(c.request(mapi_request("nspi", "Execute", "{C}:2")).response_code(), 5);
  EXPECT_EQ(c.request("POST /mapi/emsmdb/ HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/mapi-http\r\nX-RequestId: {C}:3\r\nContent-Length: 0\r\n\r\n")
                .response_code(),
            5);
  EXPECT_EQ(
      c.request("POST /mapi/emsmdb/ HTTP/1.1\r\nHost: x\r\nContent-Type: "
                "application/mapi-http\r\nX-RequestType: Connect\r\nContent-Length: 0\r\n\r\n")
          .response_code(),
      7);
  EXPECT_EQ(c.request("POST /MAPI/EMSMDB/?x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "text/xml\r\nX-RequestType: Connect\r\nX-RequestId: {C}:5\r\n"
                      "Content-Length: 0\r\n\r\n")
                .response_code(),
            4);
  // A GET is Exchange's connectivity page, not a protocol error; other verbs are (2).
  response get = c.request("GET /mapi/emsmdb/ HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.response_code(), -1);
  EXPECT_NE(get.body.find("Exchange MAPI/HTTP Connectivity Endpoint"), std::string::npos);
  EXPECT_NE(get.body.find("Vdir Path: /mapi/emsmdb/"), std::string::npos);
  response put = c.request("PUT /mapi/nspi/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(put.response_code(), 2);
  response missing = c.request("GET /nowhere/ HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("X-BEServer"), "mbx01");
  EXPECT_EQ(missing.response_code(), -1);
}

TEST(Sim, PingIsNotChunked) {
  sim::server server(fast_options());
  server.start();
  client c(server.port());
  response ping = c.request(mapi_request("emsmdb", "PING", "{D}:1"));
  EXPECT_EQ(ping.response_code(), 0);
  EXPECT_FALSE(ping.chunked);
  EXPECT_EQ(ping.header("Content-Length"), std::to_string(ping.body.size()));
  EXPECT_EQ(ping.body.rfind("PROCESSING\r\nDONE\r\nX-ResponseCode: 0\r\n", 0), 0u);
  EXPECT_EQ(ping.body.substr(ping.body.size() - 4), "\r\n\r\n");
  EXPECT_EQ(c.request(mapi_request("nspi", "ping", "{D}:2")).response_code(), 0);
}

TEST(Sim, PendingChunksDuringExecute) {
  sim::options opts = fast_options();
  opts.execute_delay = 200ms;
  sim::server server(opts);
  server.start();
  client c(server.port());
  cookie_jar jar;
  jar.update(c.request(mapi_request("emsmdb", "Connect", "{E}:1")));
  // The client can see the last chunk before the server has recorded its write event.
  ASSERT_TRUE(server.wait_for_writes(3, 2s));
  server.clear_records();
  auto sent = std::chrono::steady_clock::now();
  response r = c.request(mapi_request("emsmdb", "Execute", "{E}:2", jar.header()));
  auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(r.response_code(), 0);
  ASSERT_GE(r.chunks.size(), 4u);
  EXPECT_EQ(r.chunks.front(), "PROCESSING\r\n");
  EXPECT_GE(count_of(r.chunks, "PENDING\r\n"), 2u);
  EXPECT_EQ(r.chunks.back().rfind("DONE\r\n", 0), 0u);
  EXPECT_GE(took, 190ms);

  auto writes = server.writes();
  std::vector<std::chrono::steady_clock::time_point> pending;
  for (const auto& w : writes) {
    if (w.data == "PENDING\r\n") pending.push_back(w.at);
  }
  ASSERT_GE(pending.size(), 2u);
  ASSERT_EQ(writes.front().data, "PROCESSING\r\n");
  // Timers never fire early; PROCESSING is recorded a moment after the start, hence the slack.
  EXPECT_GE(pending[0] - writes.front().at, 30ms);  // one period after PROCESSING
  EXPECT_GE(pending[1] - writes.front().at, 80ms);  // two periods
}

TEST(Sim, ConcurrentExecuteIsInvalidSequenceButNotificationWaitRunsBeside) {
  sim::options opts = fast_options();
  opts.execute_delay = 1s;  // long enough that the requests below overlap it even under load
  opts.notification_wait = 200ms;
  sim::server server(opts);
  server.start();
  client a(server.port());
  client b(server.port());
  client n(server.port());
  cookie_jar jar;
  jar.update(a.request(mapi_request("emsmdb", "Connect", "{F}:1")));

  a.send(mapi_request("emsmdb", "Execute", "{F}:2", jar.header()));
  response running = a.read_head();
  EXPECT_EQ(running.response_code(), 0);
  EXPECT_EQ(a.read_chunk(), "PROCESSING\r\n");
  jar.update(running);  // even with the newest sequence a second request must fail

  response second = b.request(mapi_request("emsmdb", "Execute", "{F}:3", jar.header()));
  EXPECT_EQ(second.response_code(), 15);

  response wait = n.request(mapi_request("emsmdb", "NotificationWait", "{F}:4", jar.header()));
  EXPECT_EQ(wait.response_code(), 0);
  EXPECT_EQ(wait.chunks.front(), "PROCESSING\r\n");
  EXPECT_EQ(wait.chunks.back().rfind("DONE\r\n", 0), 0u);
  EXPECT_GE(count_of(wait.chunks, "PENDING\r\n"), 1u);

  // The first Execute completes normally; afterwards the context accepts requests again.
  for (;;) {
    std::string payload = a.read_chunk();
    if (payload.empty()) break;
  }
  EXPECT_EQ(b.request(mapi_request("emsmdb", "Execute", "{F}:5", jar.header())).response_code(), 0);
}

TEST(Sim, ClientClosingDuringNotificationWaitIsNoticedAtOnce) {
  sim::options opts = fast_options();
  opts.pending_period = 30s;
  opts.notification_wait = 60s;
  sim::server server(opts);
  server.start();
  cookie_jar jar;
  {
    client setup(server.port());
    jar.update(setup.request(mapi_request("emsmdb", "Connect", "{G}:1")));
  }
  client c(server.port());
  c.send(mapi_request("emsmdb", "NotificationWait", "{G}:2", jar.header()));
  EXPECT_EQ(c.read_head().response_code(), 0);
  EXPECT_EQ(c.read_chunk(), "PROCESSING\r\n");
  EXPECT_FALSE(server.connection_closed(2));
  auto closed_at = std::chrono::steady_clock::now();
  c.close();
  EXPECT_TRUE(server.wait_for_connection_closed(2, 1s));
  EXPECT_LT(std::chrono::steady_clock::now() - closed_at, 1s);
  EXPECT_TRUE(server.wait_for_connection_closed(1, 1s));
  EXPECT_EQ(server.connections_open(), 0u);
}

TEST(Sim, DisconnectEndsARunningNotificationWait) {
  sim::options opts = fast_options();
  opts.notification_wait = 60s;
  sim::server server(opts);
  server.start();
  client a(server.port());
  client n(server.port());
  cookie_jar jar;
  jar.update(a.request(mapi_request("emsmdb", "Connect", "{H}:1")));
  n.send(mapi_request("emsmdb", "NotificationWait", "{H}:2", jar.header()));
  EXPECT_EQ(n.read_head().response_code(), 0);
  EXPECT_EQ(a.request(mapi_request("emsmdb", "Disconnect", "{H}:3", jar.header())).response_code(),
            0);
  std::string last;
  for (;;) {
    std::string payload = n.read_chunk(2s);
    if (payload.empty()) break;
    last = payload;
  }
  EXPECT_EQ(last.rfind("DONE\r\n", 0), 0u);
}

TEST(Sim, IdleContextExpires) {
  sim::options opts = fast_options();
  opts.context_expiry = 100ms;
  sim::server server(opts);
  server.start();
  client c(server.port());
  cookie_jar jar;
  response connect = c.request(mapi_request("emsmdb", "Connect", "{I}:1"));
  EXPECT_EQ(connect.header("X-ExpirationInfo"), "100");
  jar.update(connect);
  // Idle time is what is under test, so time has to pass here.
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(c.request(mapi_request("emsmdb", "Execute", "{I}:2", jar.header())).response_code(),
            10);
}

}  // namespace
