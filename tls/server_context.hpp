// The TLS side of one listener: one SSL_CTX per configured certificate, SNI selection, ALPN.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "tls/cert_selector.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace tls {

struct ssl_ctx_deleter {
  void operator()(SSL_CTX* ctx) const noexcept;
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_deleter>;

/// Contract: built at start-up or reload (may throw tls_error naming the file at fault), then
/// read-only and shared by every worker thread; OpenSSL's SSL_CTX is thread-safe for that use.
/// Not movable: OpenSSL callbacks hold its address.
class server_context {
 public:
  explicit server_context(const config::listener_tls& cfg);
  server_context(const server_context&) = delete;
  server_context& operator=(const server_context&) = delete;

  /// The default context: new connections start with it, SNI may switch them to another.
  /// Owned by this object; valid while it lives.
  SSL_CTX* native() const noexcept { return contexts_.front().get(); }

  /// DNS names each certificate covers (SAN dNSName, or CN when there is none).
  const std::vector<std::vector<std::string>>& names() const noexcept { return names_; }
  const cert_selector& selector() const noexcept { return selector_; }

  /// The server name the client sent on `ssl` (empty when none). Valid after the handshake.
  static std::string_view server_name(SSL* ssl) noexcept;
  /// The negotiated ALPN protocol on `ssl` (empty when none).
  static std::string_view alpn(SSL* ssl) noexcept;

 private:
  static int on_servername(SSL* ssl, int* alert, void* arg);
  /// Session tickets under the shared keys (ticket_key_files): encrypt with the first, decrypt
  /// with any (a ticket of an older key is renewed under the first).
  static int on_ticket(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* ctx,
                       EVP_MAC_CTX* hctx, int enc);

  /// One key of a ticket_key_files entry (nginx's layout).
  struct ticket_key {
    std::array<unsigned char, 16> name{};
    std::vector<unsigned char> aes, hmac;  ///< 32 + 32 bytes (80-byte file) or 16 + 16 (48)
  };
  std::vector<ticket_key> ticket_keys_;
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                     const unsigned char* in, unsigned int inlen, void* arg);

  std::vector<ssl_ctx_ptr> contexts_;
  std::vector<std::vector<std::string>> names_;
  cert_selector selector_;
  std::string alpn_wire_;  ///< server preference, ALPN wire format (length-prefixed)
};

/// Whether the certificate in `cert_file` (leaf) is valid for `host` as a client checks it:
/// an IP literal against its iPAddress SANs, a name against its dNSName SANs (one-label
/// wildcards), or its CN when it has no dNSName. OpenSSL's X509_check_ip_asc / X509_check_host.
bool certificate_covers(const std::string& cert_file, std::string_view host);

/// DNS names of the certificate in `cert_file` (leaf): SAN dNSName entries, or the CN.
/// Throws tls_error when the file cannot be read or parsed.
std::vector<std::string> certificate_names(const std::string& cert_file);

/// The leaf's notAfter as Unix seconds. Throws tls_error like certificate_names.
std::int64_t certificate_not_after(const std::string& cert_file);
/// The leaf's notBefore as Unix seconds. Throws tls_error like certificate_names.
std::int64_t certificate_not_before(const std::string& cert_file);

/// SHA-256 of the leaf's DER encoding (32 bytes): the identity Extended Protection's channel
/// binding (tls-server-end-point) is computed from. Throws tls_error like certificate_names.
std::string certificate_sha256(const std::string& cert_file);
/// The same for a certificate in hand (e.g. the one a backend presented).
std::string certificate_sha256(X509* cert);

}  // namespace tls
