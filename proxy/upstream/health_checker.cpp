// Active health checks on a private io_context.
#include "proxy/upstream/health_checker.hpp"

#include <thread>

#include "proxy/io/log.hpp"
#include "proxy/upstream/pool.hpp"

namespace proxy {
namespace {

/// What one check found.
enum class check_result {
  passed,       ///< the configured answer came
  failed,       ///< connected, but the answer was wrong, incomplete or too late
  unreachable,  ///< no connection (TCP or TLS)
};

/// One check of backend `b`: connect (bounded by timeouts.upstream_connect), then GET `path`
/// and the response within health.timeout: `status`, with `body` in it. `why` says what failed.
awaitable<check_result> check_once(const runtime& rt, std::size_t b, const std::string& path,
                                   unsigned status, const std::string& body, std::string& why) {
  error_code ec;
  auto c = co_await connect_upstream(rt, b, ec);
  if (!c) {
    why = "connect: " + ec.message();
    co_return check_result::unreachable;
  }
  const auto& be = rt.cfg->backends[b];
  const std::string host = be.tls && !be.tls->sni.empty() ? be.tls->sni : be.address.host;
  http::request<http::empty_body> req{http::verb::get, path, 11};
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
        p.body_limit(64 * 1024);
        auto [rec, rn] = co_await http::async_read(s, c->buffer, p, use_nothrow);
        if (rec) {
          why = "response: " + rec.message();
          co_return false;
        }
        if (p.get().result_int() != status) {
          why = "HTTP " + std::to_string(p.get().result_int()) + " (expected " +
                std::to_string(status) + ")";
          co_return false;
        }
        if (p.get().body().find(body) == std::string::npos) {
          why = "the body does not contain the expected text";
          co_return false;
        }
        co_return true;
      },
      c->stream);
  c->abort();
  co_return ok ? check_result::passed : check_result::failed;
}

/// Moves `state` to `now` once `now` held `need` times in a row (rise or fall). True when it
/// moved.
bool settle(std::atomic<bool>& state, std::atomic<unsigned>& streak, bool now, unsigned rise,
            unsigned fall) {
  const bool was = state.load();
  if (now == was) {
    streak = 0;
    return false;
  }
  if (streak.fetch_add(1) + 1 < (was ? fall : rise)) return false;
  streak = 0;
  state = now;
  return true;
}

}  // namespace

struct health_checker::impl {
  runtime_ptr rt;  // declared before ioc: frames destroyed with ioc use it
  net::io_context ioc{1};
  std::thread thread;

  /// Checks backend `b` every health.interval. A failing check drains it (no new sessions,
  /// its sessions stay); only failing to connect takes it down (its sessions get
  /// X-ResponseCode 10). Both after `fall` results in a row, back after `rise`.
  awaitable<void> watch(std::size_t b) {
    const auto& cfg = *rt->cfg;
    const auto& h = cfg.health;
    const auto& name = cfg.backends[b].name;
    auto& live = rt->live[b];
    net::steady_timer tick(ioc);
    for (;;) {
      const auto started = std::chrono::steady_clock::now();
      std::string why;
      const auto& check = cfg.backends[b].check;
      const auto result = co_await check_once(*rt, b, check.path, check.status, check.body, why);
      const bool passed = result == check_result::passed;
      rt->metrics->health_check(
          b, passed,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (settle(live.check_up, live.check_streak, passed, h.rise, h.fall)) {
        if (passed)
          log(log_level::info, "backend ", name, " passes its health check again (", h.rise,
              " in a row): it takes new sessions");
        else
          log(log_level::warn, "backend ", name, " failed ", h.fall, " health checks in a row (",
              why, "): no new sessions, its sessions stay");
      }
      const bool reached = result != check_result::unreachable;
      if (settle(live.reachable, live.reach_streak, reached, h.rise, h.fall)) {
        if (reached)
          log(log_level::info, "backend ", name, " can be reached again");
        else
          log(log_level::warn, "backend ", name, " is down: ", h.fall,
              " health checks could not connect (", why,
              "); its sessions are sent to reconnect elsewhere");
      }
      tick.expires_at(started + h.interval);
      auto [ec] = co_await tick.async_wait(use_nothrow);
      if (ec) co_return;
    }
  }

  /// Checks vdir `v`'s own page on backend `b` (Managed Availability's `/EWS/healthcheck.htm`
  /// and the like) every health.interval: `fall` failures in a row take that workload's new
  /// requests elsewhere, `rise` passes bring them back. Reachability stays the backend's own
  /// check's business.
  awaitable<void> watch_vdir(std::size_t b, config::vdir_id v) {
    const auto& cfg = *rt->cfg;
    const auto& h = cfg.health;
    const auto& name = cfg.backends[b].name;
    const auto i = std::size_t(v);
    const auto& path = cfg.vdirs[i].health_path;
    const auto vdir = config::vdir_names[i].key;
    auto& live = rt->live[b];
    net::steady_timer tick(ioc);
    for (;;) {
      const auto started = std::chrono::steady_clock::now();
      std::string why;
      const bool passed = co_await check_once(*rt, b, path, 200, {}, why) == check_result::passed;
      rt->metrics->vdir_health_check(b, i, passed);
      if (settle(live.vdir_up[i], live.vdir_streak[i], passed, h.rise, h.fall)) {
        if (passed)
          log(log_level::info, "backend ", name, " passes its ", vdir,
              " check again: it takes new ", vdir, " requests");
        else
          log(log_level::warn, "backend ", name, " failed ", h.fall, " ", vdir,
              " checks in a row (", path, ": ", why, "): new ", vdir,
              " requests go elsewhere; its other workloads are not affected");
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
  const auto& cfg = *impl_->rt->cfg;
  for (std::size_t b = 0; b < cfg.backends.size(); ++b) {
    if (cfg.backends[b].check.enabled) net::co_spawn(impl_->ioc, impl_->watch(b), net::detached);
    for (std::size_t v = 1; v < config::vdir_count; ++v)
      if (cfg.vdirs[v].enabled && !cfg.vdirs[v].health_path.empty())
        net::co_spawn(impl_->ioc, impl_->watch_vdir(b, config::vdir_id(v)), net::detached);
  }
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
