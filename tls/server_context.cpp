// The TLS side of one listener: contexts per certificate, SNI switch, ALPN choice.
#include "tls/server_context.hpp"

#include <arpa/inet.h>

#include <ctime>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "routing/text.hpp"
#include "tls/openssl_error.hpp"

namespace tls {

void ssl_ctx_deleter::operator()(SSL_CTX* ctx) const noexcept {
  SSL_CTX_free(ctx);
}

namespace {

struct x509_deleter {
  void operator()(X509* x) const noexcept { X509_free(x); }
};

std::unique_ptr<X509, x509_deleter> read_leaf(const std::string& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) throw tls_error("cannot open certificate " + file);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!x) throw tls_error(openssl_errors("cannot parse certificate " + file));
  return std::unique_ptr<X509, x509_deleter>(x);
}

}  // namespace

/// The SSL_CTX ex_data slot that points back at the server_context holding the ticket keys.
static int ticket_keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int server_context::on_ticket(SSL* ssl, unsigned char* key_name, unsigned char* iv,
                              EVP_CIPHER_CTX* ctx, EVP_MAC_CTX* hctx, int enc) {
  // The keys of the context the session started on (SNI may have switched the SSL since).
  const auto* self = static_cast<const server_context*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
  if (self == nullptr || self->ticket_keys_.empty()) return -1;
  auto setup = [&](const ticket_key& k, bool encrypt) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                          const_cast<unsigned char*>(k.hmac.data()), k.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end()};
    const EVP_CIPHER* cipher = k.aes.size() == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
    if (EVP_MAC_CTX_set_params(hctx, params) != 1) return false;
    return (encrypt ? EVP_EncryptInit_ex(ctx, cipher, nullptr, k.aes.data(), iv)
                    : EVP_DecryptInit_ex(ctx, cipher, nullptr, k.aes.data(), iv)) == 1;
  };
  if (enc == 1) {
    const auto& k = self->ticket_keys_.front();
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    std::copy(k.name.begin(), k.name.end(), key_name);
    return setup(k, true) ? 1 : -1;
  }
  for (std::size_t i = 0; i < self->ticket_keys_.size(); ++i) {
    const auto& k = self->ticket_keys_[i];
    if (!std::equal(k.name.begin(), k.name.end(), key_name)) continue;
    if (!setup(k, false)) return -1;
    return i == 0 ? 1 : 2;  // 2: valid, but issue a fresh ticket under the current key
  }
  return 0;  // unknown key: a full handshake
}

bool certificate_covers(const std::string& cert_file, std::string_view host) {
  auto leaf = read_leaf(cert_file);
  const std::string h(host);
  unsigned char ip[16];
  if (inet_pton(AF_INET, h.c_str(), ip) == 1 || inet_pton(AF_INET6, h.c_str(), ip) == 1)
    return X509_check_ip_asc(leaf.get(), h.c_str(), 0) == 1;
  return X509_check_host(leaf.get(), h.data(), h.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                         nullptr) == 1;
}

std::vector<std::string> certificate_names(const std::string& cert_file) {
  auto leaf = read_leaf(cert_file);
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type != GEN_DNS) continue;
      const auto* s = gn->d.dNSName;
      names.push_back(routing::to_lower(
          std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           std::size_t(ASN1_STRING_length(s)))));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256];
    const int n =
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn, sizeof cn);
    if (n > 0) names.push_back(routing::to_lower(std::string_view(cn, std::size_t(n))));
  }
  return names;
}

namespace {
std::int64_t unix_time(const ASN1_TIME* t, const std::string& what) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) throw tls_error(openssl_errors("cannot read " + what));
  return static_cast<std::int64_t>(timegm(&tm));
}
}  // namespace

std::int64_t certificate_not_after(const std::string& cert_file) {
  auto leaf = read_leaf(cert_file);
  return unix_time(X509_get0_notAfter(leaf.get()), "notAfter of " + cert_file);
}

std::int64_t certificate_not_before(const std::string& cert_file) {
  auto leaf = read_leaf(cert_file);
  return unix_time(X509_get0_notBefore(leaf.get()), "notBefore of " + cert_file);
}

std::string certificate_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) throw tls_error(openssl_errors("X509_digest"));
  return std::string(reinterpret_cast<const char*>(md), n);
}

std::string certificate_sha256(const std::string& cert_file) {
  auto leaf = read_leaf(cert_file);
  return certificate_sha256(leaf.get());
}

server_context::server_context(const config::listener_tls& cfg)
    : names_([&] {
        std::vector<std::vector<std::string>> all;
        for (const auto& c : cfg.certificates)
          all.push_back(certificate_names(c.cert_file));
        return all;
      }()),
      selector_(names_) {
  for (const auto& p : cfg.alpn) {
    alpn_wire_.push_back(char(p.size()));
    alpn_wire_ += p;
  }
  for (const auto& file : cfg.ticket_key_files) {
    // nginx's ssl_session_ticket_key layout: 80 bytes = name 16, HMAC key 32, AES-256 key 32;
    // 48 bytes = name 16, AES-128 key 16, HMAC key 16.
    std::ifstream in(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() != 80 && bytes.size() != 48)
      throw tls_error("ticket key file " + file + ": expected 80 (or 48) bytes, got " +
                      std::to_string(bytes.size()));
    ticket_key k;
    std::copy_n(bytes.begin(), 16, k.name.begin());
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
    if (bytes.size() == 80) {
      k.hmac.assign(b + 16, b + 48);
      k.aes.assign(b + 48, b + 80);
    } else {
      k.aes.assign(b + 16, b + 32);
      k.hmac.assign(b + 32, b + 48);
    }
    ticket_keys_.push_back(std::move(k));
  }
  std::string groups;  // OpenSSL's colon list
  for (const auto& g : cfg.curves)
    groups += (groups.empty() ? "" : ":") + g;
  for (const auto& c : cfg.certificates) {
    ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw tls_error(openssl_errors("SSL_CTX_new"));
    SSL_CTX_set_min_proto_version(ctx.get(), cfg.min_version == config::tls_version::tls1_3
                                                 ? TLS1_3_VERSION
                                                 : TLS1_2_VERSION);
    // No renegotiation (a client-triggered CPU sink), server cipher order; release the 34 KiB of
    // read/write buffers while a connection idles between requests (a busy one keeps them:
    // proxy/io/tls_buffers.hpp).
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                       SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    // The listener's policy (config/ has checked the strings against this libssl already).
    if (SSL_CTX_set_cipher_list(ctx.get(), cfg.ciphers.c_str()) != 1)
      throw tls_error(openssl_errors("tls.ciphers " + cfg.ciphers + " selects no cipher"));
    if (SSL_CTX_set_ciphersuites(ctx.get(), cfg.ciphersuites.c_str()) != 1)
      throw tls_error(openssl_errors("tls.ciphersuites " + cfg.ciphersuites + " is invalid"));
    if (SSL_CTX_set1_groups_list(ctx.get(), groups.c_str()) != 1)
      throw tls_error(openssl_errors("tls.curves " + groups + " is invalid"));
    // DHE suites: OpenSSL picks built-in RFC 7919 parameters matching the certificate's strength.
    SSL_CTX_set_dh_auto(ctx.get(), 1);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert_file.c_str()) != 1)
      throw tls_error(openssl_errors("cannot load certificate chain " + c.cert_file));
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      // OpenSSL notices a key of another certificate while loading it: say so plainly.
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
        throw tls_error(
            openssl_errors("private key " + c.key_file + " does not match " + c.cert_file));
      throw tls_error(openssl_errors("cannot load private key " + c.key_file));
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      throw tls_error(
          openssl_errors("private key " + c.key_file + " does not match " + c.cert_file));
    // Sessions: resumable for session_lifetime; with shared ticket keys, on any instance.
    SSL_CTX_set_timeout(ctx.get(), long(cfg.session_lifetime.count() / 1000));
    if (!ticket_keys_.empty()) {
      // Not the app data slot: Asio's ssl::context keeps its verify callback there.
      SSL_CTX_set_ex_data(ctx.get(), ticket_keys_index(), this);
      SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx.get(), &server_context::on_ticket);
    }
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), &server_context::on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx.get(), this);
    SSL_CTX_set_alpn_select_cb(ctx.get(), &server_context::on_alpn, this);
    contexts_.push_back(std::move(ctx));
  }
  if (contexts_.empty()) throw tls_error("a TLS listener needs at least one certificate");
}

int server_context::on_servername(SSL* ssl, int* /*alert*/, void* arg) {
  const auto* self = static_cast<const server_context*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  const std::size_t i = self->selector_.select(name);
  if (i != 0) SSL_set_SSL_CTX(ssl, self->contexts_[i].get());
  return SSL_TLSEXT_ERR_OK;
}

int server_context::on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                            const unsigned char* in, unsigned int inlen, void* arg) {
  const auto* self = static_cast<const server_context*>(arg);
  unsigned char* chosen = nullptr;
  // Server preference: the first of our protocols the client also offers.
  if (SSL_select_next_proto(&chosen, outlen,
                            reinterpret_cast<const unsigned char*>(self->alpn_wire_.data()),
                            unsigned(self->alpn_wire_.size()), in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no overlap: carry on without ALPN (HTTP/1.1)
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::string_view server_context::server_name(SSL* ssl) noexcept {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  return name ? std::string_view(name) : std::string_view{};
}

std::string_view server_context::alpn(SSL* ssl) noexcept {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl, &p, &n);
  return p ? std::string_view(reinterpret_cast<const char*>(p), n) : std::string_view{};
}

}  // namespace tls
