// Streaming: PENDING chunks leave mapigate as the backend writes them, and a client that goes
// away during a NotificationWait long-poll takes its backend connection with it.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <thread>

#include "tests/support/gateway.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

TEST(Streaming, PendingChunksArriveWithin50msOfTheBackendWritingThem) {
  sim::options o;
  o.name = "mbx01";
  o.pending_period = 100ms;
  o.execute_delay = 650ms;
  sim::server mbx(o);
  mbx.start();
  gateway gw({.backends = {{"mbx01", mbx.port()}}});
  auto c = gw.client();

  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  auto connect = c.read_response();
  ASSERT_EQ(connect.status, 200);
  mbx.clear_records();

  const std::string rid = "{C715155F-2BE8-44E0-BD34-2960065754C8}:2";
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", "body",
                      "Cookie: " + cookies_from(connect) + "\r\n", rid));
  auto r = c.read_response(5s);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.header("X-ResponseCode"), "0");

  std::vector<sim::write_event> written;
  for (const auto& w : mbx.writes())
    if (w.request_id == rid) written.push_back(w);
  // The backend wrote PROCESSING, ≥5 PENDINGs, the DONE part and the terminator.
  ASSERT_GE(written.size(), 7u);
  ASSERT_GE(r.chunks.size(), 6u);

  // Pair each PROCESSING/PENDING chunk the client received with the backend's write of it.
  std::size_t matched = 0;
  std::size_t next = 0;
  for (const auto& got : r.chunks) {
    if (got.data != "PROCESSING\r\n" && got.data != "PENDING\r\n") continue;
    while (next < written.size() && written[next].data != got.data)
      ++next;
    ASSERT_LT(next, written.size()) << "client saw a chunk the backend never wrote";
    const auto gap = duration_cast<milliseconds>(got.at - written[next].at);
    EXPECT_LT(gap.count(), 50) << "chunk " << matched << " (" << got.data.substr(0, 7)
                               << ") reached the client " << gap.count() << " ms late";
    ++matched;
    ++next;
  }
  EXPECT_GE(matched, 6u);  // PROCESSING + at least five PENDINGs, each relayed separately
  // And the PENDINGs really are spread in time, not delivered in one burst at the end.
  const auto spread = duration_cast<milliseconds>(r.chunks[matched - 1].at - r.chunks[0].at);
  EXPECT_GE(spread.count(), 400);
}

/// A backend that answers mapigate's one connection with raw bytes (the simulator cannot send
/// 1xx heads, trailers or nothing at all): reads until the request's body `body_ends` has
/// arrived, writes `reply` (empty: closes at once), then reads until mapigate closes.
class raw_backend {
 public:
  raw_backend(std::string body_ends, std::string reply)
      : thread_([this, until = "\r\n\r\n" + std::move(body_ends), reply = std::move(reply)] {
          namespace net = boost::asio;
          net::ip::tcp::socket s(io_);
          boost::system::error_code ec;
          acceptor_.accept(s, ec);
          std::string in;
          char buf[4096];
          while (!ec && in.find(until) == std::string::npos) {
            const auto n = s.read_some(net::buffer(buf), ec);
            in.append(buf, n);
          }
          if (ec || reply.empty()) return;
          net::write(s, net::buffer(reply), ec);
          replied_ = true;
          while (!ec)
            s.read_some(net::buffer(buf), ec);
        }) {}
  ~raw_backend() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes the accept if mapigate never came
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  /// The reply is in mapigate's socket.
  bool replied() const { return replied_; }

 private:
  std::atomic<bool> replied_{false};
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread_;
};

/// The connection still carries a request: one mapigate answers itself (421, unknown host).
void expect_next_request_answered(test_client& c) {
  c.send(mapi_request("evil.example.test", "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(c.read_response().status, 421);
}

TEST(Streaming, InterimResponsesFromTheBackendAreSkippedAndTheFinalOneRelayed) {
  raw_backend backend(
      "x",
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 102 Processing\r\nX-Interim: 1\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Type: application/mapi-http\r\nX-ResponseCode: 0\r\n"
      "X-Final: yes\r\nContent-Length: 2\r\n\r\nok");
  gateway gw({.backends = {{"raw", backend.port()}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", "x"));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Final"), "yes");
  EXPECT_EQ(r.header("X-Interim"), "");
  EXPECT_EQ(r.body, "ok");
}

TEST(Streaming, BackendAnsweringBeforeTheRequestBodyEndsIsRelayedOnceItIsSent) {
  // The answer is waiting on the backend socket (its readiness already seen by the worker)
  // before mapigate starts to wait for it: the wait must still report it.
  raw_backend backend("",  // answers as soon as the request head is in
                      "HTTP/1.1 200 OK\r\nContent-Type: application/mapi-http\r\n"
                      "X-ResponseCode: 0\r\nContent-Length: 5\r\n\r\nearly");
  gateway gw({.backends = {{"raw", backend.port()}}});
  auto c = gw.client();
  const std::string req =
      mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", "first part, last part");
  const std::size_t tail = std::string_view(", last part").size();
  c.send(req.substr(0, req.size() - tail));
  ASSERT_TRUE(eventually([&] { return backend.replied(); }));
  c.send(req.substr(req.size() - tail));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "early");
  expect_next_request_answered(c);
}

TEST(Streaming, BackendClosingBeforeItsResponseHeadIs502AndTheClientStays) {
  raw_backend backend("x", "");  // reads the request and closes without a word
  gateway gw({.backends = {{"raw", backend.port()}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", "x"));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("backend closed or sent an invalid response"), std::string::npos);
  EXPECT_EQ(r.header("Connection"), "");
  expect_next_request_answered(c);
}

TEST(Streaming, HeldResponseWithTrailersIsRelayedWholeAndTheConnectionGoesOn) {
  // A long-poll's request and response fields are given up once sent and framed; the
  // response's trailer fields arrive after that. Everything the client needs still arrives.
  raw_backend backend(
      "nw",
      "HTTP/1.1 200 OK\r\nContent-Type: application/mapi-http\r\nX-ResponseCode: 0\r\n"
      "X-Held: yes\r\nTransfer-Encoding: chunked\r\n\r\nC\r\nPROCESSING\r\n\r\n"
      "9\r\nPENDING\r\n\r\n0\r\nX-Trailer: t\r\n\r\n");
  gateway gw({.backends = {{"raw", backend.port()}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "NotificationWait", "nw"));
  const auto r = c.read_response(5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Held"), "yes");
  EXPECT_EQ(r.header("X-ResponseCode"), "0");
  EXPECT_EQ(r.body, "PROCESSING\r\nPENDING\r\n");
  ASSERT_GE(r.chunks.size(), 2u);
  expect_next_request_answered(c);
}

TEST(Streaming, ClientGoneDuringNotificationWaitClosesTheBackendConnection) {
  sim::options o;
  o.name = "mbx01";
  // No PENDING within the test's bound: a relay writing one to the vanished client would learn
  // of its departure that way, so only the watch can.
  o.pending_period = 10s;
  o.notification_wait = 30s;
  sim::server mbx(o);
  mbx.start();
  gateway gw({.backends = {{"mbx01", mbx.port()}}});

  for (bool polite : {false, true}) {
    SCOPED_TRACE(polite ? "TLS close_notify then FIN" : "TCP reset");
    auto c = gw.client();
    c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
    auto connect = c.read_response();
    ASSERT_EQ(connect.status, 200);
    const auto before = mbx.requests().size();

    c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "NotificationWait", "nw",
                        "Cookie: " + cookies_from(connect) + "\r\n"));
    ASSERT_TRUE(mbx.wait_for_requests(before + 1, 2s));
    const auto conn = mbx.requests().back().connection_id;
    ASSERT_FALSE(mbx.connection_closed(conn));

    const auto left = std::chrono::steady_clock::now();
    if (polite)
      c.close_gracefully();
    else
      c.abort();
    ASSERT_TRUE(mbx.wait_for_connection_closed(conn, 2s))
        << "mapigate kept the backend long-poll open after its client left";
    EXPECT_LT(std::chrono::steady_clock::now() - left, 1s);
  }
  // The exchange's bookkeeping ends just after the backend connection closes.
  EXPECT_TRUE(eventually([&] { return gw.server().active_requests() == 0u; }));
}

TEST(Streaming, ClientLeavingWhileItsWriteIsBlockedEndsTheExchangeAtOnce) {
  // The backend streams far more than the sockets between mapigate and a client that reads
  // nothing can hold, so the relay's write to the client blocks. The client then sends its FIN:
  // the watch learns of it and must end the blocked write too, not leave it to the 60 s
  // client_write deadline.
  std::string reply =
      "HTTP/1.1 200 OK\r\nContent-Type: application/mapi-http\r\nX-ResponseCode: 0\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(1 << 20, 'p');
  for (int i = 0; i < 48; ++i)
    reply += "100000\r\n" + chunk + "\r\n";
  raw_backend backend("nw", reply + "0\r\n\r\n");
  gateway gw({.backends = {{"raw", backend.port()}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "NotificationWait", "nw"));
  ASSERT_TRUE(eventually([&] { return c.unread_bytes() >= 32u * 1024; }));
  ASSERT_EQ(gw.server().active_requests(), 1u);
  c.shutdown_send();
  EXPECT_TRUE(eventually([&] { return gw.server().active_requests() == 0u; }))
      << "the relay stayed blocked writing to a client that had left";
}

TEST(Streaming, RequestPipelinedBehindALongPollIsServedAfterIt) {
  // While a NotificationWait is held, the client's next request arrives long after the relay's
  // last write and its client_write deadline: reading it must not count as that write timing
  // out (which closed the connection and cut the long-poll).
  sim::options o;
  o.name = "mbx01";
  o.pending_period = 5s;  // no PENDING before DONE: nothing re-arms the write deadline
  o.notification_wait = 1s;
  sim::server mbx(o);
  mbx.start();
  gateway gw({.backends = {{"mbx01", mbx.port()}}, .timeouts = {{"client_write", "50ms"}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  auto connect = c.read_response();
  ASSERT_EQ(connect.status, 200);
  const auto jar = "Cookie: " + cookies_from(connect) + "\r\n";
  const auto before = mbx.requests().size();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "NotificationWait", "nw", jar));
  ASSERT_TRUE(mbx.wait_for_requests(before + 1, 2s));
  const auto conn = mbx.requests().back().connection_id;
  // The long-poll is held, well past client_write after its PROCESSING chunk went out.
  EXPECT_FALSE(eventually([&] { return mbx.connection_closed(conn); }, 300ms));
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "", jar));
  const auto nw = c.read_response(5s);
  EXPECT_EQ(nw.status, 200);
  EXPECT_NE(nw.body.find("DONE\r\n"), std::string::npos) << "the long-poll was cut short";
  const auto ping = c.read_response(5s);
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.header("X-RequestType"), "PING");
}

TEST(Streaming, LongPollSurvivesPendingPeriodsLongerThanClientWrites) {
  // The upstream idle deadline, not a whole-request deadline, bounds a long-poll: a
  // NotificationWait lasting several PENDING periods completes normally.
  sim::options o;
  o.name = "mbx01";
  o.pending_period = 150ms;
  o.notification_wait = 1s;
  sim::server mbx(o);
  mbx.start();
  gateway gw({.backends = {{"mbx01", mbx.port()}},
              .timeouts = {{"upstream_idle", "500ms"}, {"client_write", "500ms"}}});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  auto connect = c.read_response();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "NotificationWait", "nw",
                      "Cookie: " + cookies_from(connect) + "\r\n"));
  auto r = c.read_response(5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("DONE\r\n"), std::string::npos);
  EXPECT_GE(r.chunks.size(), 5u);
}

}  // namespace
}  // namespace testing_support
