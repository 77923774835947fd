// What mapigate refuses before any backend sees it: unknown hosts, oversize heads and bodies,
// trickling clients, request smuggling shapes, and targets that try to name another host.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <thread>

#include "tests/support/gateway.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

class Framing : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::options o;
    o.name = "mbx01";
    mbx_ = std::make_unique<sim::server>(o);
    mbx_->start();
    gw_ = std::make_unique<gateway>(
        gateway_options{.backends = {{"mbx01", mbx_->port()}},
                        .timeouts = {{"header_read", "300ms"}},
                        .limits = {{"header_bytes", "8KiB"}, {"mapi_body_bytes", "64KiB"}}});
  }

  /// Sends `raw`, expects `status` (and X-ResponseCode `code` when non-zero, the way MAPI
  /// refusals are written) and that the connection is closed afterwards.
  void expect_refused(const std::string& raw, int status, int code = 0) {
    auto c = gw_->client();
    c.send(raw);
    auto r = c.read_response();
    EXPECT_EQ(r.status, status) << raw.substr(0, 120);
    if (code) {
      EXPECT_EQ(r.header("X-ResponseCode"), std::to_string(code));
      EXPECT_EQ(r.header("Content-Type"), "text/html");
    }
    EXPECT_TRUE(c.wait_closed(2s));
  }

  std::unique_ptr<sim::server> mbx_;
  std::unique_ptr<gateway> gw_;
};

TEST_F(Framing, UnknownHostIs421) {
  auto c = gw_->client();
  c.send(mapi_request("evil.example.test", "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(c.read_response().status, 421);
  EXPECT_EQ(mbx_->requests().size(), 0u);
}

TEST_F(Framing, OversizeHeaderIs431) {
  expect_refused(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "",
                              "X-Pad: " + std::string(9000, 'a') + "\r\n"),
                 431);
}

TEST_F(Framing, OversizeBodyIsTooLargeWithoutReadingIt) {
  // On a MAPI vdir the refusal is the protocol's: 200 with X-ResponseCode 9 (Too Large).
  expect_refused(
      mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", std::string(65 * 1024, 'b')),
      200, 9);
  EXPECT_EQ(mbx_->requests().size(), 0u);
}

TEST_F(Framing, RefusalDoesNotWaitForABodyThatAwaits100Continue) {
  auto c = gw_->client();
  const auto start = std::chrono::steady_clock::now();
  c.send(
      "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: evil.example.test\r\n"
      "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n");
  EXPECT_EQ(c.read_response(2s).status, 421);
  EXPECT_TRUE(c.wait_closed(2s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(Framing, SmallRefusedBodyIsDrainedAndTheConnectionKept) {
  auto c = gw_->client();
  c.send(
      mapi_request("evil.example.test", "emsmdb", "u@corp.test", "Connect", std::string(100, 'x')));
  EXPECT_EQ(c.read_response().status, 421);
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(c.read_response().status, 200);
}

TEST_F(Framing, TwoHostsAndAnUnknownExpectationAreRefused) {
  expect_refused(
      mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "", "Host: mail.corp.test\r\n"),
      400);
  // RFC 9110 §10.1.1: 417 for an expectation not met; on a MAPI vdir, the protocol's form.
  expect_refused(
      mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "x", "Expect: 200-ok\r\n"), 200,
      4);
  EXPECT_EQ(mbx_->requests().size(), 0u);
}

TEST_F(Framing, TricklingHeaderIsCutAtTheDeadline) {
  auto c = gw_->client();
  const auto start = std::chrono::steady_clock::now();
  const std::string head =
      "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: mail.corp.test\r\n";
  // One byte every 50 ms keeps the connection "active" but never completes the head.
  bool closed = false;
  for (std::size_t i = 0; i < head.size() && !closed; ++i) {
    try {
      c.send(head.substr(i, 1), 1s);
    } catch (const client_error&) {
      closed = true;
    }
    if (c.wait_closed(50ms)) closed = true;
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);  // bounded by header_read, not by bytes
  EXPECT_EQ(mbx_->requests().size(), 0u);
}

TEST_F(Framing, SmugglingShapesAreRefusedAndNeverReachTheBackend) {
  const std::string head =
      "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: mail.corp.test\r\n"
      "Content-Type: application/mapi-http\r\nX-RequestType: PING\r\n";
  struct shape {
    const char* name;
    std::string raw;
    int status;
    int code = 0;  // X-ResponseCode, for refusals made after the head parsed
  };
  const shape shapes[] = {
      {"CL+TE", head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE+CL", head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
      {"two equal CL", head + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"two CL", head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"malformed chunk size", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       200, 4},
      {"chunked", head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, 4},
      {"TE list", head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 200, 4},
      // A final coding other than chunked is HTTP's framing error (RFC 9112 §6.3), not MAPI's.
      {"TE obfuscated", head + "Transfer-Encoding: xchunked\r\n\r\n", 400},
      {"CL list", head + "Content-Length: 5, 5\r\n\r\nhello", 400},
      {"obs-fold", head + "X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n", 400},
      {"bare LF",
       "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\nHost: mail.corp.test\nContent-Length: "
       "0\n\n",
       400},
      {"space before colon", head + "Content-Length : 0\r\n\r\n", 400},
      {"negative CL", head + "Content-Length: -1\r\n\r\n", 400},
  };
  for (const auto& s : shapes) {
    SCOPED_TRACE(s.name);
    expect_refused(s.raw, s.status, s.code);
  }
  EXPECT_EQ(mbx_->requests().size(), 0u);
  EXPECT_EQ(mbx_->connections_accepted(), 0u);
}

TEST_F(Framing, TargetsNamingOtherHostsNeverConnectAnywhere) {
  // A canary listener: if anything reaches it, a client chose where mapigate connects.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor canary(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto canary_port = std::to_string(canary.local_endpoint().port());
  const std::string at = "127.0.0.1:" + canary_port;
  const std::string attempts[] = {
      "POST http://" + at +
          "/mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: mail.corp.test\r\nContent-Length: "
          "0\r\n\r\n",
      "POST https://mail.corp.test/mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: " + at +
          "\r\nContent-Length: 0\r\n\r\n",
      "CONNECT " + at + " HTTP/1.1\r\nHost: " + at + "\r\n\r\n",
      "POST /mapi/emsmdb/?MailboxId=u@" + at +
          " HTTP/1.1\r\nHost: mail.corp.test\r\nContent-Length: 0\r\n\r\n",
      "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: " + at +
          "\r\nContent-Length: 0\r\n\r\n",
      "GET /mapi/emsmdb/@" + at + "/x HTTP/1.1\r\nHost: mail.corp.test\r\n\r\n",
  };
  for (const auto& raw : attempts) {
    SCOPED_TRACE(raw.substr(0, 80));
    auto c = gw_->client();
    c.send(raw);
    const auto r = c.read_response();
    EXPECT_GE(r.status, 400);
    EXPECT_LT(r.status, 500);
  }
  canary.non_blocking(true);
  boost::system::error_code ec;
  boost::asio::ip::tcp::socket s(io);
  canary.accept(s, ec);
  EXPECT_EQ(ec, boost::asio::error::would_block) << "something connected to the canary";
  EXPECT_EQ(mbx_->requests().size(), 0u);
}

TEST_F(Framing, Http10ClientGetsACloseDelimitedStream) {
  auto c = gw_->client();
  auto raw = mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x");
  raw.replace(raw.find("HTTP/1.1"), 8, "HTTP/1.0");
  c.send(raw);
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.header("Transfer-Encoding").empty());
  EXPECT_EQ(r.header("Connection"), "close");  // the close ends the body, and says so
  EXPECT_NE(r.body.find("PROCESSING\r\n"), std::string::npos);
  EXPECT_TRUE(c.wait_closed(2s));
}

TEST(Limits, ConnectionLimitIsPerProcessAndNewConnectionsWaitInTheBacklog) {
  sim::options o;
  o.name = "mbx01";
  sim::server mbx(o);
  mbx.start();
  // Two workers, one connection allowed for the whole process; a plain-HTTP listener so the
  // waiting client needs no handshake to queue its request.
  gateway gw({.backends = {{"mbx01", mbx.port()}},
              .limits = {{"max_client_connections", "1"}},
              .tls = false,
              .workers = 2});
  auto first = gw.client();
  first.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  ASSERT_EQ(first.read_response().status, 200);

  auto waiting = gw.client();  // accepted by the kernel, not yet by mapigate
  waiting.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_THROW(waiting.read_response(300ms), client_error);  // not served while at the limit

  first.close_gracefully();
  // Served once the first connection is gone: waited, not refused.
  EXPECT_EQ(waiting.read_response(3s).status, 200);
}

TEST(Limits, IdleKeepAliveConnectionIsClosedAfterKeepaliveIdle) {
  sim::options o;
  o.name = "mbx01";
  sim::server mbx(o);
  mbx.start();
  gateway gw({.backends = {{"mbx01", mbx.port()}}, .timeouts = {{"keepalive_idle", "200ms"}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  ASSERT_EQ(c.read_response().status, 200);
  const auto idle_from = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.wait_closed(3s));
  const auto idle = std::chrono::steady_clock::now() - idle_from;
  EXPECT_GE(idle, 150ms);  // not closed right after the response
  EXPECT_LT(idle, 2s);
}

TEST(Limits, LastRequestAllowedOnAConnectionIsAnsweredWithClose) {
  sim::options o;
  o.name = "mbx01";
  sim::server mbx(o);
  mbx.start();
  gateway gw(
      {.backends = {{"mbx01", mbx.port()}}, .limits = {{"max_requests_per_connection", "2"}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_TRUE(c.read_response().keep_alive);
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  const auto last = c.read_response();
  EXPECT_EQ(last.status, 200);
  EXPECT_FALSE(last.keep_alive);
  EXPECT_TRUE(c.wait_closed(2s));
}

}  // namespace
}  // namespace testing_support
