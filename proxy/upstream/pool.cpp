// Backend connections: connect with deadlines, TLS bridging, keep-alive pool.
#include "proxy/upstream/pool.hpp"
#include "proxy/upstream/pinned.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <openssl/ssl.h>

namespace proxy {

stream_detail::core& upstream_conn::core() noexcept {
  return std::visit(
      [](auto& s) -> stream_detail::core& { return beast::get_lowest_layer(s).core(); }, stream);
}

tcp::socket& upstream_conn::socket() noexcept {
  return core().socket;
}

void upstream_conn::park(std::chrono::steady_clock::time_point now) {
  idle_since = now;
  if (!watch_) watch_ = std::make_shared<idle_watch>();
  watch_->parked = true;
  watch_->woke = false;
  const auto generation = ++watch_->generation;
  // No system call: after the response's last read took all that had arrived, the wait needs
  // no re-arm (read_wait); while the previous park's wait is still queued (no read since), this
  // one queues behind it. Otherwise the wait re-arms the descriptor.
  core().wait(tcp::socket::wait_read, [w = watch_, generation](error_code ec) {
    if (ec != net::error::operation_aborted && w->parked && w->generation == generation)
      w->woke = true;
  });
}

bool upstream_conn::unpark(std::chrono::steady_clock::time_point now) noexcept {
  const bool woke = woke_while_idle();
  if (watch_) watch_->parked = false;
  if (!socket().is_open() || buffer.size() != 0) return false;
  if (!woke && now - idle_since < recheck_after) return true;
  return !backend_spoke();
}

bool upstream_conn::backend_spoke() noexcept {
  auto& s = socket();
  if (!s.is_open()) return true;
  char byte;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return true;  // FIN (0), or unsolicited bytes / a TLS alert (> 0)
  if (errno != EAGAIN && errno != EWOULDBLOCK) return true;  // reset or another error
  core().drained = true;  // nothing there: the wait for the response needs no re-arm
  return false;
}

void upstream_conn::abort() noexcept {
  error_code ignored;
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

namespace {

/// Resolves a configured backend host. IP literals skip the resolver (the common case).
awaitable<tcp::resolver::results_type> resolve(const config::endpoint& at,
                                               std::chrono::milliseconds deadline, error_code& ec) {
  auto ex = co_await net::this_coro::executor;
  error_code parse_ec;
  const auto ip = net::ip::make_address(at.host, parse_ec);
  if (!parse_ec) {
    co_return tcp::resolver::results_type::create(tcp::endpoint(ip, at.port), at.host,
                                                  std::to_string(at.port));
  }
  // The resolver offers no per-operation cancellation: a timer cancels it at the deadline.
  // Shared with the timer's handler, which may run after this frame is gone.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  net::steady_timer timer(ex, deadline);
  timer.async_wait([resolver](error_code tec) {
    if (!tec) resolver->cancel();  // deadline reached (not merely the timer being cancelled)
  });
  auto [rec, results] =
      co_await resolver->async_resolve(at.host, std::to_string(at.port), use_nothrow);
  timer.cancel();
  ec = rec == net::error::operation_aborted ? net::error::timed_out : rec;
  co_return results;
}

}  // namespace

awaitable<upstream_ptr> connect_upstream(const runtime& rt, std::size_t b, error_code& ec) {
  const auto& be = rt.cfg->backends[b];
  const auto deadline = rt.cfg->timeouts.upstream_connect;
  const auto started = std::chrono::steady_clock::now();
  auto endpoints = co_await resolve(be.address, deadline, ec);
  if (ec) co_return nullptr;

  tcp_conn tcp_s(co_await net::this_coro::executor);
  tcp_s.expires_at(started + deadline);
  auto [cec, ep] = co_await tcp_s.async_connect(endpoints, use_nothrow);
  if (cec) {
    ec = cec;
    co_return nullptr;
  }
  tcp_s.socket().set_option(tcp::no_delay(true), ec);
  if (ec) co_return nullptr;

  if (!rt.backend_ssl[b]) {
    tcp_s.expires_never();
    auto c = std::make_unique<upstream_conn>(b, std::move(tcp_s));
    c->owner = &rt;
    c->track(rt.live[b].upstream_open);
    co_return c;
  }
  // TLS bridging: the backend sees a TLS client, so Extended Protection's channel binding can
  // work; verification failures are errors, never a silent downgrade to plain HTTP.
  tls_conn tls_s(std::move(tcp_s), *rt.backend_ssl[b]);
  if (!rt.backend_tls[b]->prepare(tls_s.native_handle())) {
    ec = net::error::invalid_argument;
    co_return nullptr;
  }
  auto [hec] = co_await tls_s.async_handshake(ssl::stream_base::client, use_nothrow);
  if (hec) {
    ec = hec;
    co_return nullptr;
  }
  beast::get_lowest_layer(tls_s).expires_never();
  auto c = std::make_unique<upstream_conn>(b, std::move(tls_s));
  c->owner = &rt;
  c->track(rt.live[b].upstream_open);
  co_return c;
}

upstream_pool::upstream_pool(const runtime& rt)
    : rt_(&rt),
      idle_(rt.cfg->backends.size()),
      max_idle_(rt.cfg->limits.upstream_idle_per_backend),
      keepalive_(rt.cfg->timeouts.upstream_keepalive) {}

upstream_ptr upstream_pool::take(std::size_t b) {
  auto& q = idle_[b];
  const auto now = coarse_now();
  while (!q.empty()) {
    upstream_ptr c = std::move(q.back());
    q.pop_back();
    if (now - c->idle_since < keepalive_ && c->unpark(now)) return c;
    c->abort();
  }
  return nullptr;
}

void upstream_pool::give_back(upstream_ptr c) {
  if (c->owner != rt_) {  // from before a reload: its index may name another backend now
    c->abort();
    return;
  }
  auto& q = idle_[c->backend];
  if (q.size() >= max_idle_) {
    c->abort();
    return;
  }
  c->park(coarse_now());
  q.push_back(std::move(c));
}

void upstream_pool::prune() {
  const auto now = coarse_now();
  for (auto& q : idle_) {
    std::erase_if(q, [&](upstream_ptr& c) {
      if (now - c->idle_since < keepalive_ && !(c->woke_while_idle() && c->backend_spoke()))
        return false;
      c->abort();
      return true;
    });
  }
}

void upstream_pool::clear() {
  for (auto& q : idle_) {
    for (auto& c : q)
      c->abort();
    q.clear();
  }
}

std::size_t upstream_pool::idle_count() const noexcept {
  std::size_t n = 0;
  for (const auto& q : idle_)
    n += q.size();
  return n;
}

upstream_ptr pinned_connections::take(std::size_t b) {
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    if ((*it)->backend != b) continue;
    upstream_ptr c = std::move(*it);
    conns_.erase(it);
    gauge_.fetch_sub(1, std::memory_order_relaxed);
    if (!c->unpark(coarse_now())) {
      // The backend ended it (IIS idles connections out): its authentication is gone with it.
      // A fresh connection makes the backend challenge again and the client re-authenticate.
      c->abort();
      return nullptr;
    }
    return c;
  }
  return nullptr;
}

void pinned_connections::put(upstream_ptr c) {
  if (auto old = take(c->backend)) old->abort();
  c->park(coarse_now());
  conns_.push_back(std::move(c));
  gauge_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace proxy
