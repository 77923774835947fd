// proxy/io/stream: the deadline kept per connection, the non-blocking reads that hold no buffer,
// and TLS run by OpenSSL on the socket, through real sockets on 127.0.0.1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "proxy/io/lazy_io.hpp"
#include "proxy/io/net.hpp"
#include "tests/support/pki.hpp"

namespace testing_support {
namespace {

using namespace std::chrono_literals;
using proxy::error_code;
using proxy::tcp;
using proxy::tcp_conn;
using proxy::tls_conn;
namespace net = proxy::net;
namespace beast = proxy::beast;

/// A connected pair of TCP sockets on 127.0.0.1 (port 0).
struct socket_pair {
  tcp::socket a, b;
  explicit socket_pair(net::io_context& ioc) : a(ioc), b(ioc) {
    tcp::acceptor acc(ioc, {net::ip::make_address("127.0.0.1"), 0});
    a.connect(acc.local_endpoint());
    b = acc.accept();
  }
};

/// Runs `ioc` until `done` or the test's own deadline (5 s), whichever comes first.
template <class Pred>
void run_until(net::io_context& ioc, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  ioc.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline)
    ioc.run_one_for(50ms);
}

/// One read on a stream, started with a deadline set before it (`before`) and one set after
/// it has started (`after`; none: left alone); its outcome lands here.
struct one_read {
  char buf[16];
  std::optional<error_code> ec;
  std::size_t n = 0;

  one_read(tcp_conn& s, std::optional<std::chrono::milliseconds> before,
           std::optional<std::chrono::milliseconds> after) {
    before ? s.expires_after(*before) : s.expires_never();
    s.async_read_some(net::buffer(buf), [this](error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
    if (after) *after == 0ms ? s.expires_never() : s.expires_after(*after);
  }
};

TEST(Stream, ReadPastItsDeadlineFailsWithTimeoutAndClosesTheSocket) {
  net::io_context ioc;
  socket_pair p(ioc);
  tcp_conn s(std::move(p.b));
  one_read r(s, 100ms, std::nullopt);
  run_until(ioc, [&] { return r.ec.has_value(); });
  ASSERT_TRUE(r.ec);
  EXPECT_EQ(*r.ec, beast::error::timeout);
  EXPECT_FALSE(s.socket().is_open());
}

// Whether a deadline has passed is checked on the coarse clock (proxy/io/coarse_clock.hpp),
// which lags the precise one by a tick or more: a deadline must still never pass before the
// time it was given (set on the precise clock; the timer closes what the check let start).
TEST(Stream, ADeadlineNeverPassesEarly) {
  net::io_context ioc;
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE(i);
    socket_pair p(ioc);
    tcp_conn s(std::move(p.b));
    const auto started = std::chrono::steady_clock::now();
    one_read r(s, 20ms, std::nullopt);
    run_until(ioc, [&] { return r.ec.has_value(); });
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(r.ec);
    EXPECT_EQ(*r.ec, beast::error::timeout);
    EXPECT_GE(took, 20ms);
  }
  const auto now = std::chrono::steady_clock::now();
  const auto coarse = proxy::coarse_now();
  EXPECT_LE(coarse, now);          // never ahead
  EXPECT_LT(now - coarse, 100ms);  // the same clock, a tick or two behind
}

TEST(Stream, AnOperationKeepsTheDeadlineItStartedWith) {
  net::io_context ioc;
  {
    SCOPED_TRACE("started with a deadline, then expires_never: still times out");
    socket_pair p(ioc);
    tcp_conn s(std::move(p.b));
    one_read r(s, 100ms, 0ms);
    run_until(ioc, [&] { return r.ec.has_value(); });
    ASSERT_TRUE(r.ec);
    EXPECT_EQ(*r.ec, beast::error::timeout);
  }
  {
    // A long-poll's client watch reads with no deadline while the response writes arm their
    // own: those must not cut the watch short.
    SCOPED_TRACE("started without a deadline, then expires_after: the read is not cut short");
    socket_pair p(ioc);
    tcp_conn s(std::move(p.b));
    one_read r(s, std::nullopt, 50ms);
    net::steady_timer later(ioc, 300ms);  // well past the 50 ms
    later.async_wait([&](error_code) { net::write(p.a, net::buffer("hi", 2)); });
    run_until(ioc, [&] { return r.ec.has_value(); });
    ASSERT_TRUE(r.ec);
    EXPECT_FALSE(*r.ec) << r.ec->message();
    EXPECT_EQ(r.n, 2u);
  }
}

/// One wait for `s` to turn readable; its outcome lands here.
struct one_wait {
  std::optional<error_code> ec;
  explicit one_wait(tcp_conn& s) {
    s.async_wait_readable([this](error_code e) { ec = e; });
  }
};

/// Brings `s` to where a wait makes no system call: its last read found nothing, and the reactor
/// has reported nothing since (a fresh socket reports once what it saw when it was registered).
/// No wait is left pending.
void quiet(net::io_context& ioc, tcp_conn& s) {
  char buf[16];
  for (int i = 0; i < 2; ++i) {
    error_code ec;
    ASSERT_EQ(s.try_read_some(net::buffer(buf), ec), 0u);
    ASSERT_EQ(ec, net::error::would_block);
    one_wait w(s);
    ioc.restart();
    ioc.poll();
    if (w.ec) continue;  // readiness seen before the read: reported once
    s.cancel();
    run_until(ioc, [&] { return w.ec.has_value(); });
    ASSERT_EQ(w.ec, net::error::operation_aborted);
    return;
  }
  FAIL() << "a wait after a read that found nothing completed twice with nothing to read";
}

/// A connection brought to where a wait makes no system call (quiet), and its peer (`p.a`).
struct quiet_conn {
  socket_pair p;
  tcp_conn s;
  explicit quiet_conn(net::io_context& ioc) : p(ioc), s(std::move(p.b)) { quiet(ioc, s); }
};

/// Runs the worker's event loop for `d` with no wait queued on the test's socket, so that the
/// reactor sees the socket's readiness with nothing to complete.
void turn_event_loop(net::io_context& ioc, std::chrono::milliseconds d) {
  net::steady_timer t(ioc, d);
  bool fired = false;
  t.async_wait([&](error_code) { fired = true; });
  run_until(ioc, [&] { return fired; });
}

TEST(Stream, TryReadFindsNothingThenWaitReadableWakesWhenBytesArrive) {
  net::io_context ioc;
  quiet_conn q(ioc);
  if (HasFatalFailure()) return;
  auto& s = q.s;
  auto& p = q.p;
  char buf[16];
  error_code ec;
  one_wait w(s);  // quiet's last read found nothing; its wait was cancelled
  ioc.restart();
  ioc.poll();
  EXPECT_FALSE(w.ec) << "nothing has arrived yet";
  net::write(p.a, net::buffer("abc", 3));
  run_until(ioc, [&] { return w.ec.has_value(); });
  ASSERT_TRUE(w.ec);
  EXPECT_FALSE(*w.ec);
  EXPECT_EQ(s.try_read_some(net::buffer(buf), ec), 3u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf, 3), "abc");
  p.a.close();
  EXPECT_EQ(s.try_read_some(net::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, net::error::eof);
}

// A wait after a read that found nothing does not ask the poller again (read_wait): bytes that
// arrive later are an edge the reactor reports. Every way bytes could be there with no new edge
// to come must still be reported: each case fails if the wait skips the poller where it must
// not (the read left bytes or found the end; a wait already took the edge), or if an edge
// completes only the first of two waits (a pooled connection's watch, then the relay's wait
// behind it).
TEST(Stream, AWaitReportsEveryByteThatIsThereHoweverItCame) {
  net::io_context ioc;
  char buf[16];
  error_code ec;
  const auto wakes = [&](one_wait& w) {
    run_until(ioc, [&] { return w.ec.has_value(); });
    return w.ec && !*w.ec;
  };
  {
    SCOPED_TRACE("bytes that came after the read, before the wait began");
    quiet_conn q(ioc);
    net::write(q.p.a, net::buffer("abc", 3));
    one_wait w(q.s);
    EXPECT_TRUE(wakes(w));
    EXPECT_EQ(q.s.try_read_some(net::buffer(buf), ec), 3u);
  }
  {
    SCOPED_TRACE("bytes the reactor saw while nothing waited");
    quiet_conn q(ioc);
    net::write(q.p.a, net::buffer("abc", 3));
    turn_event_loop(ioc, 100ms);
    one_wait w(q.s);
    ioc.restart();
    ioc.poll();
    EXPECT_TRUE(w.ec && !*w.ec) << "completes at once";
    EXPECT_EQ(q.s.try_read_some(net::buffer(buf), ec), 3u);
  }
  // A first wait took the edge and what it reported is still there (all or part of it): no new
  // edge will come, so the second wait must ask the poller.
  struct still_there {
    const char* what;
    std::size_t sent;  ///< bytes the peer sends (0: it closes instead)
    bool read;         ///< a read between the waits (it fills `buf`, or finds the end)
  };
  for (const auto& c :
       {still_there{"a read that filled its buffer left bytes behind", 24, true},
        still_there{"a wait completed, and the next began with nothing read", 3, false},
        still_there{"a read found the end", 0, true}}) {
    SCOPED_TRACE(c.what);
    quiet_conn q(ioc);
    if (c.sent > 0)
      net::write(q.p.a, net::buffer(std::string(c.sent, 'x')));
    else
      q.p.a.close();
    one_wait first(q.s);
    ASSERT_TRUE(wakes(first));
    std::size_t taken = 0;
    if (c.read) {
      taken = q.s.try_read_some(net::buffer(buf), ec);
      EXPECT_EQ(taken, std::min(c.sent, sizeof buf));
      EXPECT_EQ(ec == net::error::eof, c.sent == 0) << ec.message();
    }
    one_wait second(q.s);
    EXPECT_TRUE(wakes(second)) << "no new edge will come";
    if (c.sent > 0) {
      EXPECT_EQ(q.s.try_read_some(net::buffer(buf), ec), c.sent - taken);
    }
  }
  {
    SCOPED_TRACE("two waits queued: one edge completes both");
    quiet_conn q(ioc);
    std::optional<error_code> watch;
    beast::get_lowest_layer(q.s).core().wait(net::socket_base::wait_read,
                                             [&](error_code e) { watch = e; });
    one_wait relay(q.s);
    ioc.restart();
    ioc.poll();
    EXPECT_FALSE(watch || relay.ec) << "nothing has arrived yet";
    net::write(q.p.a, net::buffer("abc", 3));
    EXPECT_TRUE(wakes(relay));
    EXPECT_TRUE(watch && !*watch);
  }
}

// A wait that asks the poller nothing can still be cancelled on its own, as asio's wait can
// (a cancellation slot bound to its handler; cancelling the whole connection is what quiet()
// does): it completes with operation_aborted, and the next wait still reports bytes that arrive.
TEST(Stream, AWaitThatAsksThePollerNothingCanBeCancelled) {
  net::io_context ioc;
  quiet_conn q(ioc);
  if (HasFatalFailure()) return;
  net::cancellation_signal cancel;
  std::optional<error_code> woke;
  q.s.async_wait_readable(
      net::bind_cancellation_slot(cancel.slot(), [&](error_code e) { woke = e; }));
  ioc.restart();
  ioc.poll();
  ASSERT_FALSE(woke) << "nothing has arrived yet";
  cancel.emit(net::cancellation_type::terminal);
  run_until(ioc, [&] { return woke.has_value(); });
  ASSERT_TRUE(woke);
  EXPECT_EQ(*woke, net::error::operation_aborted);
  net::write(q.p.a, net::buffer("abc", 3));
  one_wait next(q.s);
  run_until(ioc, [&] { return next.ec.has_value(); });
  EXPECT_TRUE(next.ec && !*next.ec) << "the bytes that came are reported";
}

/// A TLS client and server over a fresh socket pair, handshake done.
struct tls_pair {
  net::ssl::context server_ctx{net::ssl::context::tls_server};
  net::ssl::context client_ctx{net::ssl::context::tls_client};
  std::optional<tls_conn> server, client;

  explicit tls_pair(net::io_context& ioc) {
    const auto leaf = test_pki::instance().issue("stream-test", {"stream.test"});
    server_ctx.use_certificate_chain_file(leaf.cert);
    server_ctx.use_private_key_file(leaf.key, net::ssl::context::pem);
    SSL_CTX_set_mode(server_ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    client_ctx.set_verify_mode(net::ssl::verify_none);
    socket_pair p(ioc);
    client.emplace(tcp_conn(std::move(p.a)), client_ctx);
    server.emplace(tcp_conn(std::move(p.b)), server_ctx);
    std::optional<error_code> s_ec, c_ec;
    server->async_handshake(net::ssl::stream_base::server, [&](error_code e) { s_ec = e; });
    client->async_handshake(net::ssl::stream_base::client, [&](error_code e) { c_ec = e; });
    run_until(ioc, [&] { return s_ec && c_ec; });
    if (!s_ec || !c_ec || *s_ec || *c_ec) throw std::runtime_error("TLS handshake failed");
  }
};

TEST(Stream, TlsGathersSmallBuffersAndReadsArriveWhole) {
  net::io_context ioc;
  tls_pair t(ioc);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", body = "hello";
  const std::array<net::const_buffer, 2> parts{net::buffer(head), net::buffer(body)};
  std::optional<error_code> w;
  std::size_t written = 0;
  net::async_write(*t.server, parts, [&](error_code e, std::size_t n) {
    w = e;
    written = n;
  });
  std::string got(head.size() + body.size(), '\0');
  std::optional<error_code> r;
  net::async_read(*t.client, net::buffer(got), [&](error_code e, std::size_t) { r = e; });
  run_until(ioc, [&] { return w && r; });
  ASSERT_TRUE(w && r);
  EXPECT_FALSE(*w);
  EXPECT_FALSE(*r);
  EXPECT_EQ(written, head.size() + body.size());
  EXPECT_EQ(got, head + body);

  // close_notify reads as eof on the other side.
  std::optional<error_code> shut, eof;
  t.server->async_shutdown([&](error_code e) { shut = e; });
  char byte;
  t.client->async_read_some(net::buffer(&byte, 1), [&](error_code e, std::size_t) { eof = e; });
  run_until(ioc, [&] { return shut && eof; });
  ASSERT_TRUE(shut && eof);
  EXPECT_FALSE(*shut);
  EXPECT_EQ(*eof, net::error::eof);
}

/// One TLS read on `s`; its outcome lands here.
struct tls_read {
  char buf[64];
  std::optional<error_code> ec;
  std::size_t n = 0;
  explicit tls_read(tls_conn& s) {
    s.async_read_some(net::buffer(buf), [this](error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
  }
  std::string text() const { return std::string(buf, n); }
};

// A TLS read after one that drained the socket waits for the socket before it reads (no read(2)
// that would fail). That must lose nothing: records OpenSSL took off the socket already are read
// at once, bytes that came after the draining read are reported by the wait at once, and bytes
// that come later wake it.
TEST(Stream, TlsReadsAfterADrainingReadLoseNothing) {
  net::io_context ioc;
  tls_pair t(ioc);
  auto send = [&](std::string_view text) {  // one TLS record, written at once
    error_code ec;
    ASSERT_EQ(t.client->try_write_some(net::buffer(text), ec), text.size()) << ec.message();
  };
  send("one");
  send("two");  // both records are on the server's socket before it reads
  tls_read first(*t.server);
  run_until(ioc, [&] { return first.ec.has_value(); });
  ASSERT_TRUE(first.ec && !*first.ec);
  EXPECT_EQ(first.text(), "one");  // one read(2) took both records; OpenSSL holds the second
  tls_read second(*t.server);
  run_until(ioc, [&] { return second.ec.has_value(); });
  ASSERT_TRUE(second.ec) << "the record OpenSSL held was not read: the read waited for the socket";
  EXPECT_EQ(second.text(), "two");
  send("three");  // arrives after the draining read, before the next read starts
  tls_read third(*t.server);
  run_until(ioc, [&] { return third.ec.has_value(); });
  ASSERT_TRUE(third.ec) << "bytes that came before the wait began were not reported";
  EXPECT_EQ(third.text(), "three");
  tls_read fourth(*t.server);
  ioc.restart();
  ioc.poll();
  EXPECT_FALSE(fourth.ec) << "completed with nothing sent";
  send("four");
  run_until(ioc, [&] { return fourth.ec.has_value(); });
  ASSERT_TRUE(fourth.ec);
  EXPECT_EQ(fourth.text(), "four");
}

/// 32 MiB that tell where they were cut: more than loopback's socket buffers hold.
std::string numbered_bytes() {
  std::string data(32 << 20, '\0');
  char mark[32];
  for (std::size_t i = 0; i < data.size(); i += 8) {
    std::snprintf(mark, sizeof mark, "%07zx ", (i / 8) & 0xfffffff);
    data.replace(i, 8, mark, 8);
  }
  return data;
}

/// proxy::write_now on `writer` while `reader` does not read: the non-blocking writes stop when
/// the socket buffers are full and say the rest must wait; write_rest sends it as the reader
/// drains, every byte once and in order (for TLS: OpenSSL's half-written record is finished
/// first).
template <class Stream>
void write_outlasts_a_full_socket(net::io_context& ioc, Stream& writer, Stream& reader) {
  const std::string data = numbered_bytes();
  error_code ec;
  const std::size_t now = proxy::write_now(writer, net::buffer(data), ec);
  ASSERT_LT(now, data.size()) << "the socket took 32 MiB at once: the waiting path was not run";
  ASSERT_TRUE(proxy::wait_before_retry(ec)) << ec.message();
  std::optional<std::tuple<error_code, std::size_t>> w;
  net::co_spawn(ioc, proxy::write_rest(writer, net::buffer(data), now),
                [&](std::exception_ptr, std::tuple<error_code, std::size_t> r) { w = r; });
  ioc.restart();
  while (ioc.poll() > 0) {  // until the writer waits for the socket: nothing else is ready
  }
  ASSERT_FALSE(w) << "the rest went without the reader reading";
  std::string got(data.size(), '\0');
  std::optional<error_code> r;
  net::async_read(reader, net::buffer(got), [&](error_code e, std::size_t) { r = e; });
  run_until(ioc, [&] { return w && r; });
  ASSERT_TRUE(w && r);
  EXPECT_FALSE(std::get<0>(*w)) << std::get<0>(*w).message();
  EXPECT_EQ(std::get<1>(*w), data.size());
  EXPECT_FALSE(*r);
  EXPECT_TRUE(got == data) << "bytes lost, repeated or reordered";
}

TEST(Stream, AWriteStopsWhenTheSocketIsFullThenTheRestGoesInOrder) {
  net::io_context ioc;
  {
    SCOPED_TRACE("TCP");
    socket_pair p(ioc);
    tcp_conn a(std::move(p.a)), b(std::move(p.b));
    write_outlasts_a_full_socket(ioc, b, a);
  }
  {
    SCOPED_TRACE("TLS");
    tls_pair t(ioc);
    write_outlasts_a_full_socket(ioc, *t.server, *t.client);
  }
}

TEST(Stream, TlsWriteOnABrokenPipeFailsWithoutKillingTheProcess) {
  // OpenSSL writes with write(2), which raises SIGPIPE on a connection that can no longer be
  // written (the peer reset it after our FIN, or, deterministically here, our own side is shut
  // down). Unless the stream ignores SIGPIPE, that ends the process: each test runs in its own,
  // where nothing else ignores it.
  net::io_context ioc;
  tls_pair t(ioc);
  t.server->next_layer().socket().shutdown(tcp::socket::shutdown_send);
  std::optional<error_code> w;
  const std::string data = "too late";
  t.server->async_write_some(net::buffer(data), [&](error_code e, std::size_t) { w = e; });
  run_until(ioc, [&] { return w.has_value(); });
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, net::error::broken_pipe) << w->message();
}

TEST(Stream, TlsAfterAnAbortNeverWritesToTheDescriptorNumberAgain) {
  // OpenSSL keeps the descriptor number it was given. Once mapigate closed the socket (an abort,
  // a deadline), the kernel may hand that number to the next connection: a TLS write that
  // reached OpenSSL then would put one client's bytes on another's connection.
  net::io_context ioc;
  tls_pair t(ioc);
  const int old_fd = t.server->next_layer().socket().native_handle();
  t.server->next_layer().close();
  // Another client's connection, and the old number made to name it (as reuse would).
  socket_pair next(ioc);
  const bool taken = next.a.native_handle() == old_fd || next.b.native_handle() == old_fd;
  if (!taken) {
    ASSERT_EQ(::dup2(next.a.native_handle(), old_fd), old_fd);
  }
  std::optional<error_code> w;
  const std::string secret = "another client's mail";
  t.server->async_write_some(net::buffer(secret), [&](error_code e, std::size_t) { w = e; });
  run_until(ioc, [&] { return w.has_value(); });
  if (!taken) ::close(old_fd);
  ASSERT_TRUE(w);
  EXPECT_TRUE(*w) << "a write on an aborted TLS connection must fail";
  // Each end of the other connection sees only what its peer sends.
  net::write(next.a, net::buffer("A", 1));
  net::write(next.b, net::buffer("B", 1));
  char a = 0, b = 0;
  net::read(next.a, net::buffer(&a, 1));
  net::read(next.b, net::buffer(&b, 1));
  EXPECT_EQ(a, 'B');
  EXPECT_EQ(b, 'A');
}

}  // namespace
}  // namespace testing_support
