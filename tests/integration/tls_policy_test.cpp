// The listener's TLS policy (tls.ciphers, tls.ciphersuites, tls.curves) seen from a client:
// OpenSSL clients that offer exactly one suite or group, against mapigate on 127.0.0.1, with an
// RSA certificate as Exchange deployments usually have.
#include <gtest/gtest.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "proxy/io/net.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/shell.hpp"

namespace testing_support {
namespace {

using namespace proxy;  // net, ssl, tcp, error_code

/// What a client offers: one protocol version, and (when non-empty) only these suites/groups.
struct offer {
  int version = TLS1_2_VERSION;
  std::string ciphers;       ///< TLS 1.2 cipher list
  std::string ciphersuites;  ///< TLS 1.3 suites
  std::string groups;        ///< supported groups (and TLS 1.3 key shares)
};

struct outcome {
  bool ok = false;
  std::string cipher;  ///< negotiated suite (OpenSSL name)
  std::string group;   ///< negotiated key-exchange group
  std::string error;   ///< why the handshake failed
};

/// One TLS handshake with `o`, verifying the gateway's certificate; 5 s deadline.
outcome handshake(std::uint16_t port, const offer& o) {
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, o.version);
  SSL_CTX_set_max_proto_version(native, o.version);
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(native, o.ciphers.c_str()) != 1)
    throw std::runtime_error("client cannot offer " + o.ciphers);
  if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(native, o.ciphersuites.c_str()) != 1)
    throw std::runtime_error("client cannot offer " + o.ciphersuites);
  if (!o.groups.empty() && SSL_CTX_set1_groups_list(native, o.groups.c_str()) != 1)
    throw std::runtime_error("client cannot offer " + o.groups);
  ctx.load_verify_file(test_pki::instance().ca_file());
  ctx.set_verify_mode(ssl::verify_peer);
  ssl::stream<tcp::socket> s(ioc, ctx);
  SSL_set_tlsext_host_name(s.native_handle(), internal_host);
  s.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  bool done = false;
  error_code ec;
  s.async_handshake(ssl::stream_base::client, [&](error_code e) {
    ec = e;
    done = true;
  });
  ioc.run_for(std::chrono::seconds(5));
  if (!done) throw std::runtime_error("deadline passed: TLS handshake");
  outcome out;
  out.ok = !ec;
  if (ec) {
    out.error = ec.message();
    return out;
  }
  out.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(s.native_handle()));
  if (const int nid = SSL_get_negotiated_group(s.native_handle()); nid != NID_undef)
    out.group = OBJ_nid2sn(nid);
  error_code ignored;
  s.next_layer().close(ignored);
  return out;
}

/// The failure a server that shares no suite or group with the client reports.
void expect_refused(const outcome& r, const std::string& what) {
  EXPECT_FALSE(r.ok) << what << " was accepted: " << r.cipher << " / " << r.group;
  EXPECT_NE(r.error.find("handshake failure"), std::string::npos) << what << ": " << r.error;
}

/// A gateway with an RSA certificate for both namespaces and `tls_yaml` under its `tls:`.
std::unique_ptr<gateway> policy_gateway(const std::string& tls_yaml = {}) {
  gateway_options o;
  o.backends = {{"mbx01", 9}};  // never contacted: these tests stop at the handshake
  o.workers = 1;
  o.certificates = {test_pki::instance().issue("namespaces-rsa", {internal_host, external_host}, {},
                                               90, test_pki::key_type::rsa_2048)};
  o.listener_tls_yaml = tls_yaml;
  return std::make_unique<gateway>(std::move(o));
}

TEST(TlsPolicy, DefaultOffersNoCbcSuiteButEcdheAndDheWithAesGcm) {
  auto gw = policy_gateway();
  for (const char* cbc :
       {"ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "AES128-SHA256", "DHE-RSA-AES128-SHA"}) {
    expect_refused(handshake(gw->port(), {.ciphers = cbc}), cbc);
  }
  for (const char* aead : {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                           "ECDHE-RSA-CHACHA20-POLY1305", "DHE-RSA-AES128-GCM-SHA256"}) {
    const auto r = handshake(gw->port(), {.ciphers = aead});
    ASSERT_TRUE(r.ok) << aead << ": " << r.error;
    EXPECT_EQ(r.cipher, aead);
  }
  // Without a preference of its own, a client gets the server's first RSA suite.
  const auto r = handshake(gw->port(), {});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
}

TEST(TlsPolicy, DefaultGroupsAreX25519P256P384) {
  auto gw = policy_gateway();
  for (const char* g : {"X25519", "prime256v1", "secp384r1"}) {
    const auto r = handshake(gw->port(), {.version = TLS1_3_VERSION, .groups = g});
    ASSERT_TRUE(r.ok) << g << ": " << r.error;
    EXPECT_EQ(r.group, g);
  }
  for (const char* g : {"secp521r1", "X448", "ffdhe2048"})
    expect_refused(handshake(gw->port(), {.version = TLS1_3_VERSION, .groups = g}), g);
}

TEST(TlsPolicy, ConfiguredCiphersAreTheOnlyTls12Suites) {
  auto gw = policy_gateway("      ciphers: ECDHE-RSA-AES256-GCM-SHA384\n");
  expect_refused(handshake(gw->port(), {.ciphers = "ECDHE-RSA-AES128-GCM-SHA256"}),
                 "ECDHE-RSA-AES128-GCM-SHA256");
  expect_refused(handshake(gw->port(), {.ciphers = "DHE-RSA-AES256-GCM-SHA384"}),
                 "DHE-RSA-AES256-GCM-SHA384");
  const auto r = handshake(gw->port(), {.ciphers = "ECDHE-RSA-AES256-GCM-SHA384"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.cipher, "ECDHE-RSA-AES256-GCM-SHA384");
  // TLS 1.3 keeps its own suites.
  const auto r13 = handshake(gw->port(), {.version = TLS1_3_VERSION});
  ASSERT_TRUE(r13.ok) << r13.error;
}

TEST(TlsPolicy, ConfiguredCurvesAreTheOnlyGroups) {
  auto gw = policy_gateway("      curves: [secp384r1, prime256v1]\n");
  expect_refused(handshake(gw->port(), {.version = TLS1_3_VERSION, .groups = "X25519"}), "X25519");
  expect_refused(handshake(gw->port(), {.version = TLS1_3_VERSION, .groups = "secp521r1"}),
                 "secp521r1");
  for (const char* g : {"secp384r1", "prime256v1"}) {
    const auto r = handshake(gw->port(), {.version = TLS1_3_VERSION, .groups = g});
    ASSERT_TRUE(r.ok) << g << ": " << r.error;
    EXPECT_EQ(r.group, g);
  }
  // Server preference among the groups a client supports; TLS 1.2's ECDHE uses them too.
  const auto pref = handshake(gw->port(), {.version = TLS1_2_VERSION,
                                           .ciphers = "ECDHE-RSA-AES128-GCM-SHA256",
                                           .groups = "X25519:prime256v1:secp384r1"});
  ASSERT_TRUE(pref.ok) << pref.error;
  EXPECT_EQ(pref.group, "secp384r1");
}

TEST(TlsPolicy, ConfiguredCiphersuitesAreTheOnlyTls13Suites) {
  auto gw = policy_gateway("      ciphersuites: TLS_AES_256_GCM_SHA384\n");
  expect_refused(
      handshake(gw->port(), {.version = TLS1_3_VERSION, .ciphersuites = "TLS_AES_128_GCM_SHA256"}),
      "TLS_AES_128_GCM_SHA256");
  expect_refused(handshake(gw->port(), {.version = TLS1_3_VERSION,
                                        .ciphersuites = "TLS_CHACHA20_POLY1305_SHA256"}),
                 "TLS_CHACHA20_POLY1305_SHA256");
  const auto r =
      handshake(gw->port(), {.version = TLS1_3_VERSION, .ciphersuites = "TLS_AES_256_GCM_SHA384"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.cipher, "TLS_AES_256_GCM_SHA384");
}

TEST(TlsPolicy, CheckReportsBadValuesWithTheirPositions) {
  temp_dir dir;
  gateway_options o;
  o.backends = {{"mbx01", 9}};
  o.listener_tls_yaml =
      "      ciphers: ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265\n"
      "      ciphersuites: TLS_AES_128_GCM_SHA256:TLS_AES_128_GCM_SHA384\n"
      "      curves: [X25519, P-999]\n";
  const auto file = dir.file("policy.yaml");
  write_file(file, gateway_yaml(o, dir.path().string()));
  const auto r = run_shell(std::string(MAPIGATE_BINARY) + " check -c " + file);
  EXPECT_EQ(r.status, 1) << r.output;
  for (const std::string expected :
       {":11:16: listeners[0].tls.ciphers: \"ECDHE-RSA-AES128-GCM-SHA265\" selects no TLS 1.2 "
        "cipher",
        ":12:21: listeners[0].tls.ciphersuites: unknown TLS 1.3 suite \"TLS_AES_128_GCM_SHA384\"",
        ":13:24: listeners[0].tls.curves[1]: unknown group \"P-999\""}) {
    EXPECT_NE(r.output.find(file + expected), std::string::npos) << expected << "\n" << r.output;
  }
}

}  // namespace
}  // namespace testing_support
