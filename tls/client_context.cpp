// TLS towards a backend: trust store, verification and SNI.
#include "tls/client_context.hpp"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls/openssl_error.hpp"

namespace tls {
namespace {

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

client_context::client_context(const config::backend_tls& cfg, const std::string& address_host)
    : ctx_(SSL_CTX_new(TLS_client_method())),
      sni_(cfg.sni.empty() ? address_host : cfg.sni),
      verify_name_(sni_),
      verify_(cfg.verify) {
  if (!ctx_) throw tls_error(openssl_errors("SSL_CTX_new"));
  SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx_.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx_.get(), SSL_MODE_RELEASE_BUFFERS);
  if (verify_) {
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    const int ok = cfg.ca_file.empty()
                       ? SSL_CTX_set_default_verify_paths(ctx_.get())
                       : SSL_CTX_load_verify_locations(ctx_.get(), cfg.ca_file.c_str(), nullptr);
    if (ok != 1) throw tls_error(openssl_errors("cannot load CA " + cfg.ca_file));
  } else {
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
  }
}

bool client_context::prepare(SSL* ssl) const {
  const bool ip = is_ip_literal(sni_);
  if (!ip && SSL_set_tlsext_host_name(ssl, sni_.c_str()) != 1) return false;
  if (!verify_) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return ip ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name_.c_str()) == 1
            : X509_VERIFY_PARAM_set1_host(param, verify_name_.c_str(), 0) == 1;
}

}  // namespace tls
