// Builds the data path's read-only state from a config snapshot.
#include "proxy/state/runtime.hpp"

#include <openssl/ssl.h>

#include "metrics/registry.hpp"
#include "proxy/io/log.hpp"

namespace proxy {
namespace {

/// An Asio context sharing (not owning alone) an SSL_CTX that tls:: owns.
std::unique_ptr<ssl::context> wrap(SSL_CTX* ctx) {
  SSL_CTX_up_ref(ctx);
  return std::make_unique<ssl::context>(ctx);
}

}  // namespace

runtime::runtime(config::snapshot_ptr snapshot, metrics::registry& registry,
                 const runtime* previous)
    : cfg(std::move(snapshot)),
      routes(*cfg),
      cookie_name(cfg->affinity ? cfg->affinity->cookie_name : std::string()),
      metrics(std::make_unique<metrics::handles>(registry, *cfg)),
      live(std::make_unique<backend_live[]>(cfg->backends.size())) {
  if (previous) {
    for (std::size_t b = 0; b < cfg->backends.size(); ++b) {
      const auto old = previous->backend_index(cfg->backends[b].name);
      if (old == npos) continue;
      const auto& from = previous->live[old];
      // What the active check found holds only while the check still runs: a backend whose
      // check a reload turned off must not stay failing or down for ever.
      if (cfg->backends[b].check.enabled && cfg->health.active) {
        live[b].check_up = from.check_up.load();
        live[b].reachable = from.reachable.load();
      }
      live[b].ejected_until = from.ejected_until.load();
      live[b].unreachable_until = from.unreachable_until.load();
      live[b].cordoned = from.cordoned.load();
      for (std::size_t v = 0; v < config::vdir_count; ++v) {
        if (cfg->health.active && !cfg->vdirs[v].health_path.empty())
          live[b].vdir_up[v] = from.vdir_up[v].load();
        live[b].vdir_cordoned[v] = from.vdir_cordoned[v].load();
      }
    }
  }
  if (const auto& p = cfg->auth_protection) {
    routing::lockout_settings ls{
        .user_threshold = p->user_threshold,
        .address_threshold = p->address_threshold,
        .window = std::chrono::duration_cast<std::chrono::seconds>(p->window),
        .familiar_for = std::chrono::duration_cast<std::chrono::seconds>(p->familiar_for),
        .table_size = p->table_size,
        .domains = p->domains};
    for (const auto& n : p->exempt)
      if (auto c = routing::parse_cidr(n)) ls.exempt.push_back(*c);
    if (previous && previous->lockout) {
      lockout = previous->lockout;
      lockout->configure(std::move(ls));
    } else {
      lockout = std::make_shared<routing::lockout>(std::move(ls));
    }
  }
  for (const auto& l : cfg->listeners) {
    auto& nets = trusted_sources.emplace_back();
    for (const auto& n : l.trusted_sources)
      if (auto c = routing::parse_cidr(n)) nets.push_back(*c);
    auto& hops = trusted_proxies.emplace_back();
    for (const auto& n : l.trusted_proxies)
      if (auto c = routing::parse_cidr(n)) hops.push_back(*c);
    if (l.tls) {
      listener_tls.push_back(std::make_unique<tls::server_context>(*l.tls));
      listener_ssl.push_back(wrap(listener_tls.back()->native()));
    } else {
      listener_tls.push_back(nullptr);
      listener_ssl.push_back(nullptr);
    }
  }
  for (const auto& b : cfg->backends) {
    if (b.tls) {
      backend_tls.push_back(std::make_unique<tls::client_context>(*b.tls, b.address.host));
      backend_ssl.push_back(wrap(backend_tls.back()->native()));
    } else {
      backend_tls.push_back(nullptr);
      backend_ssl.push_back(nullptr);
    }
  }
}

std::size_t runtime::backend_index(std::string_view name) const noexcept {
  for (std::size_t b = 0; b < cfg->backends.size(); ++b)
    if (cfg->backends[b].name == name) return b;
  return npos;
}

routing::backend_health live_health::of(std::size_t b, config::vdir_id v) const {
  const auto& l = rt_.live[b];
  if (l.down(now_)) return routing::backend_health::down;
  const auto i = std::size_t(v);
  // /mapi, and a vdir without a check of its own, go by the backend's own check.
  const bool own_check = v != config::vdir_id::mapi && rt_.cfg->health.active &&
                         !rt_.cfg->vdirs[i].health_path.empty();
  const bool passes = own_check ? l.vdir_up[i].load() : l.check_up.load();
  if (!passes || l.ejected(now_) || l.cordoned.load() || l.vdir_cordoned[i].load())
    return routing::backend_health::draining;
  return routing::backend_health::ready;
}

void note_failure(const runtime& rt, std::size_t b, bool connect) {
  const auto& cfg = *rt.cfg;
  if (rt.live[b].record_failure(steady_ms(), cfg.health, connect)) {
    log(log_level::warn, "backend ", cfg.backends[b].name, " ejected for ",
        cfg.health.eject_for.count(), " ms after ", cfg.health.eject_after, " failures in a row");
    rt.metrics->backend_ejected(b);
  }
}

}  // namespace proxy
