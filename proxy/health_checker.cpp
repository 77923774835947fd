// Active health checks on a private io_context.
#include "proxy/health_checker.hpp"

#include <thread>

#include "proxy/log.hpp"
#include "proxy/upstream.hpp"

namespace proxy {
namespace {

constexpr std::string_view check_path = "/mapi/healthcheck.htm";

/// One check of backend `b`: connect (bounded by timeouts.upstream_connect), then the request
/// and response within health.timeout. Healthy = HTTP 200. `why` says what failed.
awaitable<bool> check_once(const runtime& rt, std::size_t b, std::string& why) {
  error_code ec;
  auto c = co_await connect_upstream(rt, b, ec);
  if (!c) {
    why = "connect: " + ec.message();
    co_return false;
  }
  const auto& be = rt.cfg->backends[b];
  const std::string host = be.tls && !be.tls->sni.empty() ? be.tls->sni : be.address.host;
  http::request<http::empty_body> req{http::verb::get, check_path, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "mapigate-healthcheck");
  req.keep_alive(false);
  const auto timeout = rt.cfg->health.timeout;
  const bool ok = co_await std::visit(
      [&](auto& s) -> awaitable<bool> {
        beast::get_lowest_layer(s).expires_after(timeout);
        auto [wec, wn] = co_await http::async_write(s, req, use_nothrow);
        if (wec) {
          why = "send: " + wec.message();
          co_return false;
        }
        http::response_parser<http::string_body> p;
        p.body_limit(4096);
        auto [rec, rn] = co_await http::async_read(s, c->buffer, p, use_nothrow);
        if (rec) {
          why = "response: " + rec.message();
          co_return false;
        }
        if (p.get().result_int() != 200) {
          why = "HTTP " + std::to_string(p.get().result_int());
          co_return false;
        }
        co_return true;
      },
      c->stream);
  c->abort();
  co_return ok;
}

}  // namespace

struct health_checker::impl {
  runtime_ptr rt;  // declared before ioc: frames destroyed with ioc use it
  net::io_context ioc{1};
  std::thread thread;

  awaitable<void> watch(std::size_t b) {
    const auto& cfg = *rt->cfg;
    const auto& h = cfg.health;
    const auto& name = cfg.backends[b].name;
    auto& live = rt->live[b];
    net::steady_timer tick(ioc);
    for (;;) {
      const auto started = std::chrono::steady_clock::now();
      std::string why;
      const bool passed = co_await check_once(*rt, b, why);
      rt->metrics->health_check(
          b, passed,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      const bool up = live.check_up.load();
      if (passed == up) {
        live.check_streak = 0;
      } else if (live.check_streak.fetch_add(1) + 1 >= (up ? h.fall : h.rise)) {
        live.check_streak = 0;
        live.check_up = passed;
        if (passed)
          log(log_level::info, "backend ", name, " is up again (", h.rise,
              " health checks passed)");
        else
          log(log_level::warn, "backend ", name, " is down after ", h.fall,
              " failed health checks: ", why);
      }
      tick.expires_at(started + h.interval);
      auto [ec] = co_await tick.async_wait(use_nothrow);
      if (ec) co_return;
    }
  }
};

health_checker::health_checker(runtime_ptr rt) : impl_(std::make_unique<impl>()) {
  impl_->rt = std::move(rt);
  if (!impl_->rt->cfg->health.active) return;
  for (std::size_t b = 0; b < impl_->rt->cfg->backends.size(); ++b)
    net::co_spawn(impl_->ioc, impl_->watch(b), net::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

health_checker::~health_checker() {
  stop();
}

void health_checker::stop() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace proxy
