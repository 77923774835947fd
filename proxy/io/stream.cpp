// Connection streams: the lazy deadline timer and the non-blocking OpenSSL calls.
#include "proxy/io/stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <csignal>

namespace proxy {
namespace stream_detail {

bool core::begin(op_kind k) {
  if (timed_out) return false;
  const auto d = deadline;
  // The coarse clock lags by a tick or so: a deadline that has only just passed is left to the
  // timer (fired() reads the precise clock, so that it never waits again for a passed one).
  if (d != never && d <= coarse_now()) {
    timed_out = true;
    close();
    return false;
  }
  pending[k] = d;
  if (d < timer_at) arm(d);
  return true;
}

void core::arm(clock::time_point at) {
  timer_at = at;
  const auto gen = ++generation;
  timer.expires_at(at);  // cancels the previous wait; its handler sees a stale generation
  timer.async_wait([self = shared_from_this(), gen](error_code) { self->fired(gen); });
}

void core::fired(std::uint64_t gen) {
  if (gen != generation || !socket.is_open()) return;  // re-armed since, or closed
  timer_at = never;
  const auto now = clock::now();
  const auto earliest = std::min(pending[reading], pending[writing]);
  if (earliest == never) return;  // nothing in flight: the next operation arms again
  if (earliest <= now) {
    timed_out = true;
    close();
    return;
  }
  arm(earliest);
}

void core::close() noexcept {
  error_code ignored;
  socket.close(ignored);
  ++generation;  // a wait still queued finds nothing to do
  timer_at = never;
  timer.cancel();
}

namespace {

/// Whether a call that does not wait may touch the connection: not once a deadline closed it
/// (timeout; such a call has no deadline of its own) or it was closed (bad_descriptor).
bool open_for_try(const core& c, error_code& ec) {
  ec = {};
  if (c.timed_out)
    ec = beast::error::timeout;
  else if (!c.socket.is_open())
    ec = net::error::bad_descriptor;
  return !ec;
}

}  // namespace

std::size_t try_read(core& c, void* data, std::size_t size, error_code& ec) {
  if (!open_for_try(c, ec)) return 0;
  const auto n = ::recv(c.socket.native_handle(), data, size, MSG_DONTWAIT);
  if (n > 0) {
    c.record_read(size, static_cast<std::size_t>(n), false);
    return static_cast<std::size_t>(n);
  }
  if (n == 0 && size == 0) return 0;  // asked for nothing: learned nothing
  if (n == 0) {
    ec = net::error::eof;
  } else {
    ec = errno == EAGAIN || errno == EWOULDBLOCK
             ? error_code(net::error::would_block)
             : error_code(errno, boost::system::system_category());
  }
  // The end or a failure stays readable but is no new edge: a wait after it must ask the poller.
  c.record_read(size, 0, ec == net::error::would_block);
  return 0;
}

std::size_t try_write(core& c, const void* data, std::size_t size, error_code& ec) {
  if (!open_for_try(c, ec)) return 0;
  if (size == 0) return 0;
  const auto n = ::send(c.socket.native_handle(), data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) return static_cast<std::size_t>(n);
  ec = errno == EAGAIN || errno == EWOULDBLOCK
           ? error_code(net::error::would_block)
           : error_code(errno, boost::system::system_category());
  return 0;
}

namespace {

error_code ssl_failure() {
  const unsigned long e = ERR_get_error();
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
    return net::ssl::error::stream_truncated;
  ERR_clear_error();
  return error_code(static_cast<int>(e), net::error::get_ssl_category());
}

}  // namespace

tls_step tls_try(SSL* ssl, tls_call call, void* data, std::size_t size) {
  tls_step r;
  const int len = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
  // SSL_get_error needs an empty queue. Clearing walks every slot: look first (it is empty).
  if (ERR_peek_error() != 0) ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL with errno 0 is an EOF; a stale errno would misname it
  int ret = 0;
  switch (call) {
    case tls_call::accept:
    case tls_call::connect:
      ret = SSL_do_handshake(ssl);
      if (ret == 1) return r;
      break;
    case tls_call::read:
      if (len == 0) return r;
      ret = SSL_read(ssl, data, len);
      if (ret > 0) {
        r.n = static_cast<std::size_t>(ret);
        return r;
      }
      break;
    case tls_call::write:
      if (len == 0) return r;
      ret = SSL_write(ssl, data, len);
      if (ret > 0) {
        r.n = static_cast<std::size_t>(ret);
        return r;
      }
      break;
    case tls_call::shutdown:
      // 1: both close_notify exchanged; 0: ours is sent, which is all a closing side needs.
      ret = SSL_shutdown(ssl);
      if (ret >= 0) return r;
      break;
  }
  const int err = SSL_get_error(ssl, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      r.done = false;
      r.wait = net::socket_base::wait_read;
      return r;
    case SSL_ERROR_WANT_WRITE:
      r.done = false;
      r.wait = net::socket_base::wait_write;
      return r;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      r.ec = net::error::eof;
      return r;
    case SSL_ERROR_SYSCALL:
      r.ec = errno != 0 ? error_code(errno, boost::system::system_category())
                        : error_code(net::ssl::error::stream_truncated);
      if (ERR_peek_error() != 0) r.ec = ssl_failure();
      return r;
    default:
      r.ec = ssl_failure();
      return r;
  }
}

namespace {

/// OpenSSL's socket BIO callback: after each read(2), notes whether it drained the socket.
long note_read(BIO* bio, int oper, const char*, std::size_t len, int, long, int ret,
               std::size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* c = reinterpret_cast<core*>(BIO_get_callback_arg(bio));
    c->record_read(len, ret > 0 && processed ? *processed : 0, BIO_should_retry(bio) != 0);
  }
  return ret;
}

}  // namespace

}  // namespace stream_detail

using stream_detail::error_code;
namespace net = boost::asio;
namespace beast = boost::beast;

tls_conn::tls_conn(tcp_conn next, boost::asio::ssl::context& ctx)
    : next_(std::move(next)), ssl_(SSL_new(ctx.native_handle())) {
  // OpenSSL writes TLS records to the socket itself, with write(2) (no MSG_NOSIGNAL): a peer
  // that has gone must cost an EPIPE, not the process. Every command that opens TLS
  // connections (run, check --backends) gets here first.
  static const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;
  if (!ssl_ || SSL_set_fd(ssl_.get(), next_.socket().native_handle()) != 1)
    throw boost::system::system_error(
        error_code(static_cast<int>(ERR_get_error()), net::error::get_ssl_category()), "SSL_new");
  // Whether each read(2) OpenSSL makes takes all that has arrived (core::drained).
  BIO* bio = SSL_get_rbio(ssl_.get());
  BIO_set_callback_arg(bio, reinterpret_cast<char*>(&next_.core()));
  BIO_set_callback_ex(bio, stream_detail::note_read);
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One read(2) takes whatever has arrived, not a record header and then its body.
  SSL_set_read_ahead(ssl_.get(), 1);
  boost::system::error_code ec;
  next_.socket().non_blocking(true, ec);  // OpenSSL's own reads and writes must not block
  if (ec) throw boost::system::system_error(ec, "non_blocking");
}

std::size_t tls_conn::try_read_some(net::mutable_buffer b, error_code& ec) {
  return try_now(stream_detail::tls_call::read, b.data(), b.size(), ec);
}

std::size_t tls_conn::try_write_some(net::const_buffer b, error_code& ec) {
  return try_now(stream_detail::tls_call::write, const_cast<void*>(b.data()), b.size(), ec);
}

std::size_t tls_conn::try_now(stream_detail::tls_call call, void* data, std::size_t size,
                              error_code& ec) {
  auto& c = next_.core();
  if (!stream_detail::open_for_try(c, ec)) return 0;
  const auto r = stream_detail::tls_try(ssl_.get(), call, data, size);
  if (r.done) {
    ec = r.ec;
    return r.n;
  }
  // Waiting for what the call itself does is would_block; for the other direction (a read
  // that must write first, a write that must read first), in_progress.
  const auto own = call == stream_detail::tls_call::read ? net::socket_base::wait_read
                                                         : net::socket_base::wait_write;
  ec = r.wait == own ? net::error::would_block : net::error::in_progress;
  return 0;
}

}  // namespace proxy
