// Builds the data path's read-only state from a config snapshot.
#include "proxy/runtime.hpp"

#include <openssl/ssl.h>

namespace proxy {
namespace {

/// An Asio context sharing (not owning alone) an SSL_CTX that tls:: owns.
std::unique_ptr<ssl::context> wrap(SSL_CTX* ctx) {
  SSL_CTX_up_ref(ctx);
  return std::make_unique<ssl::context>(ctx);
}

}  // namespace

runtime::runtime(config::snapshot_ptr snapshot, metrics::registry& registry)
    : cfg(std::move(snapshot)),
      routes(*cfg),
      cookie_name(cfg->affinity ? cfg->affinity->cookie_name : std::string()),
      metrics(std::make_unique<metrics::handles>(registry, *cfg)) {
  for (const auto& l : cfg->listeners) {
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

}  // namespace proxy
