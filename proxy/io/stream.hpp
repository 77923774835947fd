// The byte streams of client and backend connections: TCP with a deadline that costs nothing
// per operation, and TLS driven by OpenSSL directly on the non-blocking socket. Included through
// proxy/io/net.hpp only.
//
// Why not beast::tcp_stream and asio::ssl::stream: the first starts and cancels a timer wait
// around every read and write; the second copies every byte through a BIO pair and holds four
// 17 KiB buffers per connection for as long as it lives, idle or not. Here a connection holds no
// buffer of its own (OpenSSL's record buffers are released while idle: tls_buffers.hpp)
// and a deadline is a stored time point, enforced by one lazily re-armed timer per connection.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "proxy/io/coarse_clock.hpp"
#include "proxy/io/read_wait.hpp"
#include "proxy/io/tls_buffers.hpp"

namespace proxy {
namespace stream_detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

enum op_kind : int { reading = 0, writing = 1 };

/// What a connection shares with its deadline timer's handler (which may run after the
/// connection object is gone, hence the shared ownership): the socket, the deadline given to
/// operations started from now on, and the deadline of the read and of the write in flight.
///
/// The timer is armed only when an operation starts with a deadline earlier than the one it
/// already waits for; when it fires early it re-arms for the earliest deadline still pending.
/// So a busy connection touches its timer about once per timeout period, not per operation.
/// When an operation's deadline passes, the socket is closed (as beast::tcp_stream does), and
/// the failing operations report beast::error::timeout.
struct core : std::enable_shared_from_this<core> {
  static constexpr clock::time_point never = clock::time_point::max();

  explicit core(tcp::socket s)
      : socket(std::move(s)), timer(socket.get_executor()), reactor(&reactor_of(socket)) {}
  explicit core(const net::any_io_executor& ex)
      : socket(ex), timer(ex), reactor(&reactor_of(socket)) {}

  reactor_socket socket;
  net::steady_timer timer;
  net::detail::reactor* reactor;                  ///< the socket's (for read_wait)
  clock::time_point deadline = never;             ///< for the operations started from now on
  clock::time_point pending[2] = {never, never};  ///< of the read / write in flight
  clock::time_point timer_at = never;             ///< when the timer fires (never: not waiting)
  /// Of the timer wait that counts (after a wrap a stale wait may match: a harmless check).
  std::uint32_t generation = 0;
  bool timed_out = false;
  /// The socket's last read took all that had arrived (it returned less than it asked for, or
  /// would_block; not the end or a failure), and no wait has reported readiness since: a read now
  /// would find nothing unless bytes came since, and each such arrival is an edge the reactor
  /// reports. So a wait for readability needs no re-arm (read_wait), and the next TLS read waits
  /// first instead of trying a read(2) that fails. Kept by every read of the socket: try_read, the
  /// asynchronous plain read, OpenSSL's reads (a callback on its socket BIO); cleared by read_wait.
  bool drained = false;

  /// Keeps `drained` after a read of up to `asked` bytes that took `got`, or none (`got` 0) and
  /// found nothing there (`found_nothing`: would_block) or not (the end, a failure).
  void record_read(std::size_t asked, std::size_t got, bool found_nothing) noexcept {
    drained = got > 0 ? got < asked : found_nothing;
  }

  /// Waits for the socket to turn readable (read_wait: no system call while `drained`), or
  /// writable (asio's wait).
  template <class Handler>
  void wait(net::socket_base::wait_type type, Handler&& handler) {
    if (type == net::socket_base::wait_read)
      read_wait(socket, *reactor, drained, std::forward<Handler>(handler));
    else
      socket.async_wait(type, std::forward<Handler>(handler));
  }

  /// Registers the start of an operation. False (and the socket closed) when its deadline has
  /// passed already: the operation must fail with beast::error::timeout without starting.
  bool begin(op_kind k);
  void end(op_kind k) noexcept { pending[k] = never; }
  /// The error an operation reports: a failure caused by the deadline closing the socket is
  /// beast::error::timeout.
  error_code outcome(error_code ec) const noexcept {
    return ec && timed_out ? error_code(beast::error::timeout) : ec;
  }
  void close() noexcept;

 private:
  void arm(clock::time_point at);
  void fired(std::uint64_t gen);
};

/// Completes a composed operation from outside its initiating function: asio never invokes a
/// completion handler from inside the call that started the operation.
template <class Self, class... Args>
void post_completion(Self& self, const net::any_io_executor& ex, Args... args) {
  net::post(ex, [self = std::move(self), args...]() mutable { self.complete(args...); });
}

template <class Buffers, bool Write>
struct plain_op {
  core* c;
  Buffers buffers;
  bool started = false;

  template <class Self>
  void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
    constexpr op_kind kind = Write ? writing : reading;
    if (!started) {
      started = true;
      if (!c->begin(kind))
        return post_completion(self, c->socket.get_executor(), error_code(beast::error::timeout),
                               std::size_t{0});
      if constexpr (Write)
        c->socket.async_write_some(buffers, std::move(self));
      else
        c->socket.async_read_some(buffers, std::move(self));
      return;
    }
    c->end(kind);
    if constexpr (!Write) c->record_read(net::buffer_size(buffers), ec ? 0 : n, false);
    self.complete(c->outcome(ec), n);
  }
};

template <class Endpoints>
struct connect_op {
  core* c;
  Endpoints endpoints;
  bool started = false;

  template <class Self>
  void operator()(Self& self, error_code ec = {}, tcp::endpoint ep = {}) {
    if (!started) {
      started = true;
      if (!c->begin(writing))
        return post_completion(self, c->socket.get_executor(), error_code(beast::error::timeout),
                               tcp::endpoint{});
      net::async_connect(c->socket, endpoints, std::move(self));
      return;
    }
    c->end(writing);
    self.complete(c->outcome(ec), ep);
  }
};

/// The completion of a wait on a connection: the read's deadline ends, then `handler` runs
/// (beast::error::timeout when the deadline closed the socket). A plain wrapper, not a composed
/// operation: an idle connection's wait then holds one small reactor operation and nothing else
/// (asio's composed_op adds two work-tracking executors and a second allocation).
template <class Handler>
struct wait_handler {
  core* c;
  Handler handler;

  void operator()(error_code ec) {
    c->end(reading);
    std::move(handler)(c->outcome(ec));
  }
};

/// Starts a wait under the connection's deadline (tcp_conn::async_wait).
struct initiate_wait {
  core* c;

  template <class Handler>
  void operator()(Handler&& handler, net::socket_base::wait_type type) const {
    if (!c->begin(reading))
      return net::post(c->socket.get_executor(), net::append(std::forward<Handler>(handler),
                                                             error_code(beast::error::timeout)));
    c->wait(type, wait_handler<std::decay_t<Handler>>{c, std::forward<Handler>(handler)});
  }
};

/// A non-blocking read of what has arrived: the bytes read, or `ec` set (would_block when
/// nothing has; timeout once a deadline has closed the connection). It never waits, so no
/// deadline applies to it.
std::size_t try_read(core& c, void* data, std::size_t size, error_code& ec);
/// A non-blocking write of as much as the socket takes now: the bytes written, or `ec` set
/// (would_block: none). Never waits, so no deadline applies; never raises SIGPIPE.
std::size_t try_write(core& c, const void* data, std::size_t size, error_code& ec);

enum class tls_call { accept, connect, read, write, shutdown };

/// One non-blocking OpenSSL call and what came of it: done (with `ec` and `n`), or a wait for
/// the socket to become readable or writable before calling again.
struct tls_step {
  bool done = true;
  error_code ec;
  std::size_t n = 0;
  net::socket_base::wait_type wait = net::socket_base::wait_read;
};
tls_step tls_try(SSL* ssl, tls_call call, void* data, std::size_t size);

/// tls_try, unless the socket was closed (an abort, or a deadline): OpenSSL must never touch
/// the descriptor number again, which the kernel may have given to another connection by now.
inline tls_step tls_try_open(core& c, SSL* ssl, tls_call call, void* data, std::size_t size) {
  if (!c.socket.is_open()) {
    tls_step r;
    r.ec = net::error::bad_descriptor;
    return r;
  }
  return tls_try(ssl, call, data, size);
}

/// One TLS operation in flight: OpenSSL is called again each time the socket turns ready for
/// what it asked for, until the call is done; then the deadline ends and `handler` runs. Like
/// wait_handler, the operation itself is the handler of each socket wait (no composed_op).
template <bool WithSize, class Handler>
struct tls_handler {
  core* c;
  SSL* ssl;
  tls_call call;
  void* data;
  std::size_t size;
  std::unique_ptr<char[]> gathered;  ///< a multi-buffer write, linearized (owns `data` then)
  Handler handler;

  op_kind kind() const noexcept { return call == tls_call::read ? reading : writing; }

  void finish(error_code ec, std::size_t n) {
    c->end(kind());
    if constexpr (WithSize)
      std::move(handler)(c->outcome(ec), n);
    else
      std::move(handler)(c->outcome(ec));
  }

  /// After a wait for the socket (failed: cancelled, or the deadline closed the socket).
  void operator()(error_code ec) {
    if (ec) return finish(ec, 0);
    const auto r = tls_try_open(*c, ssl, call, data, size);
    if (!r.done) return c->wait(r.wait, std::move(*this));
    finish(r.ec, r.n);
  }
};

/// Starts a TLS operation: the first OpenSSL call at once; its completion, when it needs no
/// wait, is posted (asio never completes inside the initiating call).
template <bool WithSize>
struct initiate_tls {
  core* c;
  SSL* ssl;

  template <class Handler>
  void operator()(Handler&& handler, tls_call call, void* data, std::size_t size,
                  std::unique_ptr<char[]> gathered) const {
    tls_handler<WithSize, std::decay_t<Handler>> op{
        c, ssl, call, data, size, std::move(gathered), std::forward<Handler>(handler)};
    const auto post = [&](error_code ec, std::size_t n) {
      if constexpr (WithSize)
        net::post(c->socket.get_executor(), net::append(std::move(op.handler), ec, n));
      else
        net::post(c->socket.get_executor(), net::append(std::move(op.handler), ec));
    };
    if (!c->begin(op.kind())) return post(error_code(beast::error::timeout), 0);
    if (call == tls_call::read && c->drained && SSL_has_pending(ssl) == 0 && c->socket.is_open())
      return c->wait(net::socket_base::wait_read, std::move(op));
    const auto r = tls_try_open(*c, ssl, call, data, size);
    if (!r.done) return c->wait(r.wait, std::move(op));
    c->end(op.kind());
    post(c->outcome(r.ec), r.n);
  }
};

struct ssl_free {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};

/// The first non-empty buffer of a sequence (an empty one when all are).
template <class Buffers, class Buffer>
Buffer first_buffer(const Buffers& bs) {
  for (auto it = net::buffer_sequence_begin(bs); it != net::buffer_sequence_end(bs); ++it) {
    Buffer b(*it);
    if (b.size() > 0) return b;
  }
  return Buffer{};
}

}  // namespace stream_detail

/// A TCP connection with a deadline for its next operations (the subset of beast::tcp_stream
/// mapigate uses). Executor affinity: its worker; at most one read and one write in flight.
/// Like asio::ssl::stream, the object must outlive the operations started on it (they refer
/// to it); closing or cancelling ends them at once.
class tcp_conn {
 public:
  using executor_type = boost::asio::any_io_executor;
  using clock = stream_detail::clock;

  explicit tcp_conn(boost::asio::ip::tcp::socket s)
      : core_(std::make_shared<stream_detail::core>(std::move(s))) {}
  explicit tcp_conn(const executor_type& ex) : core_(std::make_shared<stream_detail::core>(ex)) {}
  tcp_conn(tcp_conn&&) noexcept = default;
  /// Not assignable: the connection being replaced would stay open until its timer fired.
  tcp_conn& operator=(tcp_conn&&) = delete;
  ~tcp_conn() {
    if (core_) core_->close();
  }

  executor_type get_executor() const noexcept { return core_->socket.get_executor(); }
  boost::asio::ip::tcp::socket& socket() noexcept { return core_->socket; }

  /// The deadline of operations started from now on (beast::tcp_stream's semantics: one that
  /// is in flight keeps the deadline it started with). On the precise clock: the coarse one
  /// (coarse_now) may lag by more than a tick, which would make a deadline pass early.
  void expires_after(clock::duration d) { core_->deadline = clock::now() + d; }
  void expires_at(clock::time_point t) { core_->deadline = t; }
  void expires_never() { core_->deadline = stream_detail::core::never; }
  /// Cancels the operations in flight (they complete with operation_aborted).
  void cancel() {
    boost::system::error_code ignored;
    core_->socket.cancel(ignored);
  }
  void close() { core_->close(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& b, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        stream_detail::plain_op<MutableBuffers, false>{core_.get(), b}, token, core_->socket);
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& b, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        stream_detail::plain_op<ConstBuffers, true>{core_.get(), b}, token, core_->socket);
  }
  /// Connects to the first endpoint of `eps` that accepts (as asio::async_connect).
  template <class Endpoints, class Token>
  auto async_connect(const Endpoints& eps, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code,
                                                  boost::asio::ip::tcp::endpoint)>(
        stream_detail::connect_op<Endpoints>{core_.get(), eps}, token, core_->socket);
  }

  /// Waits until the socket is readable (or writable: `type`), holding no buffer meanwhile,
  /// under the deadline (core::wait). Only after a read (or try_read_some) found nothing; it
  /// may still complete once with readiness from before that read, after which a read finds
  /// nothing and waits again. The wait is part of that read: it takes the read's place (and
  /// deadline), so no read may be in flight meanwhile.
  template <class Token>
  auto async_wait(boost::asio::socket_base::wait_type type, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        stream_detail::initiate_wait{core_.get()}, token, type);
  }
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return async_wait(boost::asio::socket_base::wait_read, std::forward<Token>(token));
  }
  /// Reads what has arrived without waiting: the bytes read, or `ec` set (would_block: none).
  std::size_t try_read_some(boost::asio::mutable_buffer b, boost::system::error_code& ec) {
    return stream_detail::try_read(*core_, b.data(), b.size(), ec);
  }
  /// Whether bytes already taken off the socket wait to be read (never: this layer keeps none),
  /// so that async_wait_readable would not report them.
  bool holds_unread() const noexcept { return false; }
  /// Writes what the socket takes now without waiting: the bytes written, or `ec` set
  /// (would_block: nothing fits). The rest is for async_write_some.
  std::size_t try_write_some(boost::asio::const_buffer b, boost::system::error_code& ec) {
    return stream_detail::try_write(*core_, b.data(), b.size(), ec);
  }

  stream_detail::core& core() noexcept { return *core_; }

 private:
  std::shared_ptr<stream_detail::core> core_;
};

/// TLS over a tcp_conn, OpenSSL reading and writing the socket itself (SSL_set_fd). The subset
/// of asio::ssl::stream mapigate uses. A read and a write may be in flight at once (HTTP/2).
/// Errors: a peer's close_notify reads as asio::error::eof, a close without one as
/// asio::ssl::error::stream_truncated, OpenSSL failures in asio's SSL error category.
class tls_conn {
 public:
  using executor_type = boost::asio::any_io_executor;
  using next_layer_type = tcp_conn;

  /// Throws boost::system::system_error when OpenSSL cannot make the connection's SSL object.
  tls_conn(tcp_conn next, boost::asio::ssl::context& ctx);
  tls_conn(tls_conn&&) noexcept = default;
  tls_conn& operator=(tls_conn&&) = delete;

  executor_type get_executor() const noexcept { return next_.get_executor(); }
  tcp_conn& next_layer() noexcept { return next_; }
  SSL* native_handle() noexcept { return ssl_.get(); }

  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    using stream_detail::tls_call;
    if (type == boost::asio::ssl::stream_base::server)
      SSL_set_accept_state(ssl_.get());
    else
      SSL_set_connect_state(ssl_.get());
    return start<false, Token>(
        type == boost::asio::ssl::stream_base::server ? tls_call::accept : tls_call::connect,
        nullptr, 0, token);
  }
  /// Sends close_notify (without waiting for the peer's).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return start<false, Token>(stream_detail::tls_call::shutdown, nullptr, 0, token);
  }
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& bs, Token&& token) {
    const auto b = stream_detail::first_buffer<MutableBuffers, boost::asio::mutable_buffer>(bs);
    return start<true, Token>(stream_detail::tls_call::read, b.data(), b.size(), token);
  }
  /// See tcp_conn::async_wait (OpenSSL holds no unread bytes after a read found none). After
  /// try_read_some said in_progress, waiting for the socket to turn writable lets the next
  /// try_read_some write what OpenSSL must write first.
  template <class Token>
  auto async_wait(boost::asio::socket_base::wait_type type, Token&& token) {
    return next_.async_wait(type, std::forward<Token>(token));
  }
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return next_.async_wait_readable(std::forward<Token>(token));
  }
  /// Whether OpenSSL holds bytes already taken off the socket (plaintext, or a record it has
  /// not processed), which async_wait_readable would not report.
  bool holds_unread() const noexcept { return SSL_has_pending(ssl_.get()) == 1; }
  /// Reads what has arrived without waiting: the bytes read, or `ec` set: would_block when
  /// nothing has, in_progress when OpenSSL must write first (then use async_read_some).
  /// (Not try_again: on Linux that is the same error as would_block.)
  std::size_t try_read_some(boost::asio::mutable_buffer b, boost::system::error_code& ec);
  /// Writes what the socket takes now (whole TLS records) without waiting: the bytes written,
  /// or `ec` set: would_block when nothing fits, in_progress when OpenSSL must read first. After
  /// either, the rest must go through async_write_some, starting with the same bytes: OpenSSL
  /// may hold part of a record of them.
  std::size_t try_write_some(boost::asio::const_buffer b, boost::system::error_code& ec);

  /// OpenSSL's record buffers (tls_buffers.hpp): a request starts on this connection, or it
  /// will be quiet for long (a held long-poll).
  void request_started(tls_buffer_keeper& k) { k.request_started(buffers_, ssl_.get()); }
  void quiet(tls_buffer_keeper& k) noexcept { k.give_back(buffers_); }

  /// Writes at most one buffer's worth; several small buffers are gathered into one TLS record
  /// (a response head and its body go out in one record, not two).
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& bs, Token&& token) {
    namespace net = boost::asio;
    const auto first = stream_detail::first_buffer<ConstBuffers, net::const_buffer>(bs);
    const std::size_t total = net::buffer_size(bs);
    if (total == first.size() || first.size() >= gather_limit)
      return start<true, Token>(stream_detail::tls_call::write, const_cast<void*>(first.data()),
                                first.size(), token);
    const std::size_t n = std::min(total, gather_limit);
    std::unique_ptr<char[]> gathered(new char[n]);
    net::buffer_copy(net::buffer(gathered.get(), n), bs);
    void* data = gathered.get();
    return net::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        stream_detail::initiate_tls<true>{&next_.core(), ssl_.get()}, token,
        stream_detail::tls_call::write, data, n, std::move(gathered));
  }

 private:
  static constexpr std::size_t gather_limit = 16 * 1024;  ///< one TLS record's payload

  /// try_read_some and try_write_some: one non-blocking OpenSSL call, never on a closed socket.
  std::size_t try_now(stream_detail::tls_call call, void* data, std::size_t size,
                      boost::system::error_code& ec);

  template <bool WithSize, class Token>
  auto start(stream_detail::tls_call call, void* data, std::size_t size, Token& token) {
    using sig = std::conditional_t<WithSize, void(boost::system::error_code, std::size_t),
                                   void(boost::system::error_code)>;
    return boost::asio::async_initiate<Token, sig>(
        stream_detail::initiate_tls<WithSize>{&next_.core(), ssl_.get()}, token, call, data, size,
        std::unique_ptr<char[]>());
  }

  tcp_conn next_;
  std::unique_ptr<SSL, stream_detail::ssl_free> ssl_;
  tls_buffer_use buffers_;  ///< after ssl_: leaves the keeper's list before the SSL goes
};

}  // namespace proxy

namespace boost::asio {

/// The wrappers keep what asio associates with the handler they wrap (executor, allocator,
/// cancellation slot), as asio's own wrappers (append, as_tuple) do.
template <template <typename, typename> class Associator, typename Handler,
          typename DefaultCandidate>
struct associator<Associator, proxy::stream_detail::wait_handler<Handler>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
  static typename Associator<Handler, DefaultCandidate>::type get(
      const proxy::stream_detail::wait_handler<Handler>& h) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler);
  }
  static auto get(const proxy::stream_detail::wait_handler<Handler>& h,
                  const DefaultCandidate& c) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler, c);
  }
};

template <template <typename, typename> class Associator, bool WithSize, typename Handler,
          typename DefaultCandidate>
struct associator<Associator, proxy::stream_detail::tls_handler<WithSize, Handler>,
                  DefaultCandidate> : Associator<Handler, DefaultCandidate> {
  static typename Associator<Handler, DefaultCandidate>::type get(
      const proxy::stream_detail::tls_handler<WithSize, Handler>& h) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler);
  }
  static auto get(const proxy::stream_detail::tls_handler<WithSize, Handler>& h,
                  const DefaultCandidate& c) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler, c);
  }
};

}  // namespace boost::asio
