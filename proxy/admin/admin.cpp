// The admin listener: accept loop and one coroutine per connection on a dedicated thread; the
// GET /backends document (Boost.JSON).
#include "proxy/admin/admin.hpp"

#include <boost/json.hpp>
#include <thread>

#include "proxy/admin/gzip.hpp"
#include "proxy/io/log.hpp"
#include "proxy/io/net.hpp"

namespace proxy {
namespace {

constexpr std::size_t max_connections = 32;
constexpr std::uint32_t head_limit = 8 * 1024;
constexpr std::uint64_t body_limit = 64 * 1024;
constexpr auto request_deadline = std::chrono::seconds(10);  ///< read one request, write reply
constexpr std::size_t gzip_threshold = 1024;                 ///< smaller bodies go as they are

boost::json::object to_json(const backend_status& b) {
  boost::json::object vdirs;
  for (const auto& v : b.vdirs)
    vdirs[v.name] = boost::json::object{
        {"health", v.check_up ? "up" : "down"}, {"cordoned", v.cordoned}, {"ready", v.ready}};
  return {{"name", b.name},
          {"address", b.address},
          {"tls", b.tls},
          {"config_state", b.draining ? "draining" : "active"},
          {"cordoned", b.cordoned},
          {"health", b.check_up ? "up" : "down"},
          {"reachable", b.reachable},
          {"ejected", b.ejected},
          {"down", b.down},
          {"usable", b.usable},
          {"upstream_connections", b.upstream_connections},
          {"requests_in_flight", b.requests_in_flight},
          {"sessions", b.sessions},
          {"vdirs", std::move(vdirs)}};
}

}  // namespace

std::string backends_json(std::span<const backend_status> backends) {
  boost::json::array list;
  list.reserve(backends.size());
  for (const auto& b : backends)
    list.push_back(to_json(b));
  return boost::json::serialize(boost::json::object{{"backends", std::move(list)}}) + '\n';
}

struct admin_server::impl {
  // Declared before ioc: connection frames still pending when ioc is destroyed touch them.
  handler h;
  std::size_t connections = 0;  ///< admin thread only
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  awaitable<void> serve(tcp::socket socket) {
    ++connections;
    struct on_exit {
      std::size_t& n;
      ~on_exit() { --n; }
    } guard{connections};
    beast::tcp_stream s(std::move(socket));
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> p;
      p.header_limit(head_limit);
      p.body_limit(body_limit);
      s.expires_after(request_deadline);
      auto [ec, n] = co_await http::async_read(s, buf, p, use_nothrow);
      if (ec) break;
      auto& req = p.get();
      admin_request in{std::string(req.method_string()), std::string(req.target()),
                       std::string(req[http::field::authorization]),
                       std::string(req[http::field::accept_encoding])};
      admin_response out;
      try {
        out = h(in);
      } catch (const std::exception& e) {
        log(log_level::error, "admin ", in.method, " ", in.target, ": ", e.what());
        out = {500, "text/plain; charset=utf-8", "internal error\n"};
      }
      http::response<http::string_body> res{static_cast<http::status>(out.status), 11};
      res.set(http::field::content_type, out.content_type);
      res.set(http::field::cache_control, "no-store");
      // Compressed when asked for and worth it (a scrape: ~10x smaller).
      if (out.body.size() >= gzip_threshold) {
        res.set(http::field::vary, "Accept-Encoding");
        if (accepts_gzip(in.accept_encoding)) {
          if (auto packed = gzip(out.body)) {
            res.set(http::field::content_encoding, "gzip");
            out.body = std::move(*packed);
          }
        }
      }
      res.body() = std::move(out.body);
      res.prepare_payload();
      if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays
      res.keep_alive(req.keep_alive());
      auto [wec, wn] = co_await http::async_write(s, res, use_nothrow);
      if (wec || !res.keep_alive()) break;
    }
    error_code ignored;
    s.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  awaitable<void> accept_loop() {
    net::steady_timer pause(ioc);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
      if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
      if (ec) {
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(use_nothrow);
        continue;
      }
      if (connections >= max_connections) continue;  // closes it: monitoring will retry
      net::co_spawn(ioc, serve(std::move(socket)), net::detached);
    }
  }
};

admin_server::admin_server(const config::endpoint& at, handler h)
    : impl_(std::make_unique<impl>()) {
  impl_->h = std::move(h);
  const tcp::endpoint ep(net::ip::make_address(at.host), at.port);
  try {
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
  } catch (const boost::system::system_error& e) {
    throw boost::system::system_error(e.code(),
                                      "admin listener " + at.host + ":" + std::to_string(at.port));
  }
}

admin_server::~admin_server() {
  stop();
}

std::uint16_t admin_server::port() const noexcept {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void admin_server::start() {
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void admin_server::stop() {
  if (!impl_) return;
  net::post(impl_->ioc, [this] {
    error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace proxy
