// Everything built once from a config snapshot that the data path reads: routes, TLS contexts.
#pragma once

#include <memory>
#include <vector>

#include "config/config.hpp"
#include "metrics/registry.hpp"
#include "proxy/io/net.hpp"
#include "proxy/state/backend_live.hpp"
#include "routing/lockout.hpp"
#include "routing/route_table.hpp"
#include "tls/client_context.hpp"
#include "tls/server_context.hpp"

namespace proxy {

/// Contract: built on the control thread (may throw tls::tls_error), then immutable and shared
/// by all workers through std::shared_ptr<const runtime>; a connection keeps the runtime it
/// started with alive until it ends.
struct runtime {
  config::snapshot_ptr cfg;
  routing::route_table routes;
  /// Per listener; null for a plain-HTTP listener.
  std::vector<std::unique_ptr<tls::server_context>> listener_tls;
  std::vector<std::unique_ptr<ssl::context>> listener_ssl;
  /// Per backend; null for a plain-HTTP backend.
  std::vector<std::unique_ptr<tls::client_context>> backend_tls;
  std::vector<std::unique_ptr<ssl::context>> backend_ssl;
  /// mapigate's affinity cookie name; empty when affinity is not configured.
  std::string cookie_name;
  /// This snapshot's metric handles (every label set resolved here, none per request).
  std::unique_ptr<metrics::handles> metrics;
  /// Per backend: health, drain switch, load. Mutable state in an immutable runtime: atomics.
  std::unique_ptr<backend_live[]> live;
  /// The smart lockout (auth_protection), shared with the runtime a reload replaces so that
  /// counts, holds and familiar addresses survive it; null when the section is absent.
  std::shared_ptr<routing::lockout> lockout;
  /// Per listener: the networks its PROXY protocol headers may come from (parsed once).
  std::vector<std::vector<routing::cidr>> trusted_sources;
  /// Per listener: the L7 hops whose X-Forwarded-For is believed (parsed once).
  std::vector<std::vector<routing::cidr>> trusted_proxies;

  /// `previous`: the runtime this one replaces (reload); health and drain state carry over to
  /// backends of the same name.
  runtime(config::snapshot_ptr snapshot, metrics::registry& registry,
          const runtime* previous = nullptr);

  /// Index of the backend named `name`, or npos.
  std::size_t backend_index(std::string_view name) const noexcept;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

using runtime_ptr = std::shared_ptr<const runtime>;

/// Every backend's health per vdir as routing weighs it (routing::backend_health), read off the
/// live state at `now`: down when it cannot be reached; draining when the vdir's own check
/// (or, without one, the backend's) fails, passive ejection took it out, or the admin cordoned
/// it (whole, or for that vdir); ready otherwise. One per request decision.
class live_health final : public routing::health_source {
 public:
  live_health(const runtime& rt, std::int64_t now) : rt_(rt), now_(now) {}
  routing::backend_health of(std::size_t backend, config::vdir_id vdir) const override;

 private:
  const runtime& rt_;
  std::int64_t now_;
};

/// Passive health: a failure of backend `b`'s own: a connect failure (`connect`; after
/// health.eject_after of them in a row it is down), a 5xx, or a failure before the response
/// head. Ejects the backend (no new sessions) after health.eject_after in a row, logged and
/// counted once, by whoever crossed the line.
void note_failure(const runtime& rt, std::size_t b, bool connect = false);

}  // namespace proxy
