// TLS towards a backend (TLS bridging, as Extended Protection needs): verification and SNI.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "tls/server_context.hpp"

namespace tls {

/// Contract: built at start-up or reload (throws tls_error), then read-only and shared.
class client_context {
 public:
  /// `address_host` is the backend's configured address host, the default name to verify.
  client_context(const config::backend_tls& cfg, const std::string& address_host);

  SSL_CTX* native() const noexcept { return ctx_.get(); }

  /// Sets SNI and, when verification is on, the name or IP the backend's certificate must carry.
  /// Call on each new SSL before its handshake. Returns false when OpenSSL refuses the name.
  bool prepare(SSL* ssl) const;

 private:
  ssl_ctx_ptr ctx_;
  std::string sni_;          ///< sent as SNI unless it is an IP literal
  std::string verify_name_;  ///< sni, else the address host
  bool verify_ = true;
};

}  // namespace tls
