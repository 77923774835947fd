// Valid configurations: a full file parsed into the expected snapshot, defaults, path resolution
// and the shipped deploy/mapigate.example.yaml.
#include "config/loader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using config_test::messages;

TEST(loader_test, full_config_into_snapshot) {
  const config_test::temp_dir dir;
  for (const char* f :
       {"certs/int.pem", "certs/int.key", "other/other.pem", "certs/other.key", "certs/ca.pem"}) {
    dir.write(f, "x");
  }
  const std::string other_pem = (dir.path() / "other/other.pem").string();
  const std::string path = dir.write("conf/mapigate.yaml", R"(version: 1
server_name: mapigate01.corp.test
workers: 4
listeners:
  - name: internal
    address: 10.0.0.5:443
    tls:
      certificates:
        - cert: ../certs/int.pem
          key: ../certs/int.key
        - cert: )" + other_pem + R"(
          key: ../certs/other.key
      min_version: 1.3
      alpn: [http/1.1]
  - name: plain
    address: "[::1]:8080"
mapi:
  internal_url: https://Mail.Corp.Test/mapi/
  external_url: https://outlook.example.test:8443/mapi
backends:
  - name: mbx01
    address: 10.0.1.11:444
    tls:
      ca: ../certs/ca.pem
      sni: mbx01.corp.test
      verify: false
  - name: mbx02
    address: mbx02.corp.test:444
    weight: 250
  - name: mbx03
    address: 10.0.1.13:80
    weight: 1
    tls: {}
pools:
  - name: dag1
    members: [mbx02, mbx01]
  - name: dag2
    members: [mbx03]
routes:
  - mailbox: 416C6368-656D-794A-6F45-57615272456E@Corp.Test
    backend: mbx03
  - domain: Fabrikam.Test
    pool: dag2
  - default: true
    pool: dag1
timeouts:
  handshake: 3s
  header_read: 20s
  keepalive_idle: 2m
  body_idle: 45s
  client_write: 1m
  upstream_connect: 2500ms
  upstream_idle: 1h
  upstream_keepalive: 10s
  drain: 45s
  accept_grace: 4s
limits:
  header_bytes: 32KiB
  mapi_body_bytes: 8MiB
  max_requests_per_connection: 500
  upstream_idle_per_backend: 0
  max_client_connections: 2000
)");
  const auto r = config::load_file(path);
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  EXPECT_TRUE(r.diagnostics.empty());
  const config::snapshot& s = *r.config;
  const std::string certs = (dir.path() / "certs").string();

  EXPECT_EQ(s.source, path);
  EXPECT_EQ(s.server_name, "mapigate01.corp.test");
  EXPECT_EQ(s.workers, 4u);

  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_EQ(s.listeners[0].name, "internal");
  EXPECT_EQ(s.listeners[0].address.host, "10.0.0.5");
  EXPECT_EQ(s.listeners[0].address.port, 443);
  ASSERT_TRUE(s.listeners[0].tls);
  const auto& tls = *s.listeners[0].tls;
  ASSERT_EQ(tls.certificates.size(), 2u);
  EXPECT_EQ(tls.certificates[0].cert_file, certs + "/int.pem");
  EXPECT_EQ(tls.certificates[0].key_file, certs + "/int.key");
  EXPECT_EQ(tls.certificates[1].cert_file, other_pem);
  EXPECT_EQ(tls.certificates[1].key_file, certs + "/other.key");
  EXPECT_EQ(tls.min_version, config::tls_version::tls1_3);
  EXPECT_EQ(tls.alpn, std::vector<std::string>{"http/1.1"});
  EXPECT_EQ(s.listeners[1].address.host, "::1");
  EXPECT_EQ(s.listeners[1].address.port, 8080);
  EXPECT_FALSE(s.listeners[1].tls);

  ASSERT_TRUE(s.mapi.internal_url && s.mapi.external_url);
  EXPECT_EQ(s.mapi.internal_url->url, "https://Mail.Corp.Test/mapi/");
  EXPECT_EQ(s.mapi.internal_url->host, "mail.corp.test");
  EXPECT_EQ(s.mapi.internal_url->path, "/mapi");
  EXPECT_EQ(s.mapi.external_url->host, "outlook.example.test");
  EXPECT_EQ(s.mapi.external_url->port, 8443);

  ASSERT_EQ(s.backends.size(), 3u);
  EXPECT_EQ(s.backends[0].name, "mbx01");
  ASSERT_TRUE(s.backends[0].tls);
  EXPECT_EQ(s.backends[0].tls->ca_file, certs + "/ca.pem");
  EXPECT_EQ(s.backends[0].tls->sni, "mbx01.corp.test");
  EXPECT_FALSE(s.backends[0].tls->verify);
  EXPECT_EQ(s.backends[0].weight, 100u);
  EXPECT_EQ(s.backends[1].address.host, "mbx02.corp.test");
  EXPECT_EQ(s.backends[1].address.port, 444);
  EXPECT_EQ(s.backends[1].weight, 250u);
  EXPECT_FALSE(s.backends[1].tls);
  EXPECT_EQ(s.backends[2].weight, 1u);
  ASSERT_TRUE(s.backends[2].tls);
  EXPECT_EQ(s.backends[2].tls->ca_file, "");
  EXPECT_EQ(s.backends[2].tls->sni, "");
  EXPECT_TRUE(s.backends[2].tls->verify);

  ASSERT_EQ(s.pools.size(), 2u);
  EXPECT_EQ(s.pools[0].name, "dag1");
  EXPECT_EQ(s.pools[0].members, (std::vector<std::size_t>{1, 0}));
  EXPECT_EQ(s.pools[1].members, (std::vector<std::size_t>{2}));

  ASSERT_EQ(s.routes.size(), 2u);
  EXPECT_EQ(s.routes[0].kind, config::route_kind::mailbox);
  EXPECT_EQ(s.routes[0].key, "416c6368-656d-794a-6f45-57615272456e@corp.test");
  EXPECT_EQ(s.routes[0].to.kind, config::target_kind::backend);
  EXPECT_EQ(s.routes[0].to.index, 2u);
  EXPECT_EQ(s.routes[1].kind, config::route_kind::domain);
  EXPECT_EQ(s.routes[1].key, "fabrikam.test");
  EXPECT_EQ(s.routes[1].to.kind, config::target_kind::pool);
  EXPECT_EQ(s.routes[1].to.index, 1u);
  ASSERT_TRUE(s.default_route);
  EXPECT_EQ(s.default_route->kind, config::target_kind::pool);
  EXPECT_EQ(s.default_route->index, 0u);

  EXPECT_EQ(s.timeouts.handshake, 3s);
  EXPECT_EQ(s.timeouts.header_read, 20s);
  EXPECT_EQ(s.timeouts.keepalive_idle, 2min);
  EXPECT_EQ(s.timeouts.body_idle, 45s);
  EXPECT_EQ(s.timeouts.client_write, 1min);
  EXPECT_EQ(s.timeouts.upstream_connect, 2500ms);
  EXPECT_EQ(s.timeouts.upstream_idle, 1h);
  EXPECT_EQ(s.timeouts.upstream_keepalive, 10s);
  EXPECT_EQ(s.timeouts.drain, 45s);
  EXPECT_EQ(s.timeouts.accept_grace, 4s);
  EXPECT_EQ(s.limits.header_bytes, 32u * 1024);
  EXPECT_EQ(s.limits.mapi_body_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(s.limits.max_requests_per_connection, 500u);
  EXPECT_EQ(s.limits.upstream_idle_per_backend, 0u);
  EXPECT_EQ(s.limits.max_client_connections, 2000u);
}

TEST(loader_test, backend_health_checks) {
  const auto r = config::load_string(R"(version: 1
server_name: gw
listeners:
  - name: a
    address: 127.0.0.1:0
mapi:
  external_url: http://outlook.example.test/mapi
backends:
  - name: exchange
    address: 10.0.0.11:444
  - name: gromox
    address: 10.0.0.12:444
    health_check:
      path: /mapi/emsmdb/?probe=1
      status: 401
      body: Unauthorized
  - name: lab
    address: 10.0.0.13:444
    health_check: {enabled: false}
routes:
  - default: true
    backend: exchange
)",
                                     "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  const auto& b = r.config->backends;
  // Exchange's page by default.
  EXPECT_TRUE(b[0].check.enabled);
  EXPECT_EQ(b[0].check.path, "/mapi/healthcheck.htm");
  EXPECT_EQ(b[0].check.status, 200u);
  EXPECT_EQ(b[0].check.body, "");
  EXPECT_EQ(b[1].check.path, "/mapi/emsmdb/?probe=1");
  EXPECT_EQ(b[1].check.status, 401u);
  EXPECT_EQ(b[1].check.body, "Unauthorized");
  EXPECT_FALSE(b[2].check.enabled);
  EXPECT_EQ(b[2].check.path, "/mapi/healthcheck.htm");
}

TEST(loader_test, vdirs_with_exchange_defaults_and_overrides) {
  const auto r = config::load_string(R"(version: 1
server_name: gw
listeners:
  - name: a
    address: 127.0.0.1:0
mapi:
  internal_url: https://mail.corp.test/mapi
  external_url: https://outlook.example.test/mapi
namespaces:
  external: [Autodiscover.Example.Test]
backends:
  - name: mbx01
    address: 10.0.0.11:443
  - name: mbx02
    address: 10.0.0.12:443
pools:
  - name: dag1
    members: [mbx01, mbx02]
routes:
  - mailbox: [alice@corp.test, 6a3c6e2e-1d2b-4c5a-9b8e-1f2a3b4c5d6e@corp.test]
    pool: dag1
  - default: true
    pool: dag1
vdirs:
  autodiscover:
  ews:
    authentication: [ntlm, negotiate, basic]
    body_limit: 1MiB
  rpc:
    idle_timeout: 30m
  owa:
    enabled: false
  ecp:
    publish: both
    health_check: false
)",
                                     "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  const auto& c = *r.config;
  using config::vdir_id;
  auto v = [&](vdir_id id) -> const config::vdir_settings& { return c.vdirs[std::size_t(id)]; };
  EXPECT_TRUE(v(vdir_id::mapi).enabled);
  // Listed: published, with Exchange's defaults where nothing is said.
  EXPECT_TRUE(v(vdir_id::autodiscover).enabled);
  EXPECT_EQ(v(vdir_id::autodiscover).body_limit, 64u * 1024);
  EXPECT_EQ(v(vdir_id::autodiscover).health_path, "/Autodiscover/healthcheck.htm");
  EXPECT_EQ(
      v(vdir_id::ews).authentication,
      (std::vector<config::auth_scheme>{config::auth_scheme::ntlm, config::auth_scheme::negotiate,
                                        config::auth_scheme::basic}));
  EXPECT_EQ(v(vdir_id::ews).body_limit, 1024u * 1024);
  EXPECT_EQ(v(vdir_id::rpc).idle_timeout, config::duration(30 * 60 * 1000));
  EXPECT_EQ(v(vdir_id::rpc).body_limit, 1024ull * 1024 * 1024);  // RPC_IN_DATA's 1 GiB
  EXPECT_FALSE(v(vdir_id::owa).enabled);
  EXPECT_EQ(v(vdir_id::ecp).publish, config::publish_scope::both);
  EXPECT_EQ(v(vdir_id::ecp).health_path, "");
  // Not listed: not published.
  EXPECT_FALSE(v(vdir_id::oab).enabled);
  EXPECT_FALSE(v(vdir_id::activesync).enabled);
  EXPECT_EQ(v(vdir_id::powershell).publish, config::publish_scope::internal);
  EXPECT_EQ(c.mapi.external_aliases, std::vector<std::string>{"autodiscover.example.test"});
  // One route per anchor, both hashing by the first.
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].key, "alice@corp.test");
  EXPECT_EQ(c.routes[1].key, "6a3c6e2e-1d2b-4c5a-9b8e-1f2a3b4c5d6e@corp.test");
  EXPECT_EQ(c.routes[1].hash_key, "alice@corp.test");
}

TEST(loader_test, defaults_for_absent_optional_keys) {
  const auto r = config::load_string(R"(version: 1
server_name: gw
listeners:
  - name: a
    address: 127.0.0.1:0
  - name: b
    address: 127.0.0.1:0
mapi:
  external_url: http://outlook.example.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
routes:
  - mailbox: alice@corp.test
    backend: mbx01
)",
                                     "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  const config::snapshot& s = *r.config;
  EXPECT_EQ(s.source, "t.yaml");
  EXPECT_EQ(s.workers, 0u);
  EXPECT_FALSE(s.listeners[0].tls);
  EXPECT_EQ(s.listeners[1].address.port, 0);  // several port-0 listeners may coexist
  EXPECT_FALSE(s.mapi.internal_url);
  EXPECT_EQ(s.mapi.external_url->port, 80);
  EXPECT_EQ(s.backends[0].weight, 100u);
  EXPECT_FALSE(s.backends[0].tls);
  EXPECT_TRUE(s.pools.empty());
  EXPECT_EQ(s.routes.size(), 1u);
  EXPECT_FALSE(s.default_route);  // mailbox routes without a default are valid

  const config::timeouts t;
  EXPECT_EQ(s.timeouts.handshake, t.handshake);
  EXPECT_EQ(s.timeouts.header_read, t.header_read);
  EXPECT_EQ(s.timeouts.keepalive_idle, t.keepalive_idle);
  EXPECT_EQ(s.timeouts.body_idle, t.body_idle);
  EXPECT_EQ(s.timeouts.client_write, t.client_write);
  EXPECT_EQ(s.timeouts.upstream_connect, t.upstream_connect);
  EXPECT_EQ(s.timeouts.upstream_idle, 120s);
  EXPECT_EQ(s.timeouts.upstream_keepalive, t.upstream_keepalive);
  EXPECT_EQ(s.timeouts.accept_grace, 0s);  // listeners close at once, as before the knob
  EXPECT_EQ(s.limits.header_bytes, 16u * 1024);
  EXPECT_EQ(s.limits.mapi_body_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(s.limits.max_requests_per_connection, 10'000u);
  EXPECT_EQ(s.limits.upstream_idle_per_backend, 64u);
  EXPECT_EQ(s.limits.max_client_connections, 100'000u);
}

TEST(loader_test, tls_defaults_and_quoted_min_version) {
  const config_test::temp_dir dir;
  const std::string pem = dir.write("a.pem", "x");
  const auto r = config::load_string(R"(version: 1
server_name: gw
listeners:
  - name: a
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: )" + pem +
                                         ", key: " + pem + R"(}]
  - name: b
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: )" + pem +
                                         ", key: " + pem + R"(}]
      min_version: "1.3"
mapi: {internal_url: "https://mail.corp.test/mapi"}
backends: [{name: mbx01, address: "10.0.0.11:444"}]
routes: [{default: true, backend: mbx01}]
)",
                                     "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(r.config->listeners[0].tls->min_version, config::tls_version::tls1_2);
  EXPECT_EQ(r.config->listeners[0].tls->alpn, std::vector<std::string>{"http/1.1"});
  EXPECT_EQ(r.config->listeners[1].tls->min_version, config::tls_version::tls1_3);
  // Mozilla's "intermediate" profile (v5.7): AEAD suites only, no CBC.
  const auto& tls = *r.config->listeners[0].tls;
  EXPECT_EQ(tls.ciphers,
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
            "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305");
  EXPECT_EQ(tls.ciphers.find("CBC"), std::string::npos);
  EXPECT_EQ(tls.ciphers.find("-SHA:"), std::string::npos);
  EXPECT_EQ(tls.ciphersuites,
            "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  EXPECT_EQ(tls.curves, (std::vector<std::string>{"X25519", "prime256v1", "secp384r1"}));
}

TEST(loader_test, tls_policy_keys_into_snapshot) {
  const config_test::temp_dir dir;
  const std::string pem = dir.write("a.pem", "x");
  const auto r = config::load_string(R"(version: 1
server_name: gw
listeners:
  - name: a
    address: 127.0.0.1:0
    tls:
      certificates: [{cert: )" + pem +
                                         ", key: " + pem + R"(}]
      ciphers: "ECDHE+AESGCM:!aNULL:DHE-RSA-AES256-GCM-SHA384:@STRENGTH"
      ciphersuites: TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256
      curves: [secp384r1, X448, ffdhe3072]
mapi: {internal_url: "https://mail.corp.test/mapi"}
backends: [{name: mbx01, address: "10.0.0.11:444"}]
routes: [{default: true, backend: mbx01}]
)",
                                     "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  const auto& tls = *r.config->listeners[0].tls;
  EXPECT_EQ(tls.ciphers, "ECDHE+AESGCM:!aNULL:DHE-RSA-AES256-GCM-SHA384:@STRENGTH");
  EXPECT_EQ(tls.ciphersuites, "TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256");
  EXPECT_EQ(tls.curves, (std::vector<std::string>{"secp384r1", "X448", "ffdhe3072"}));
}

// Restores the working directory on scope exit.
class cwd_guard {
 public:
  cwd_guard() : saved_(std::filesystem::current_path()) {}
  ~cwd_guard() { std::filesystem::current_path(saved_); }

 private:
  std::filesystem::path saved_;
};

TEST(loader_test, load_string_resolves_relative_paths_against_cwd) {
  const config_test::temp_dir dir;
  dir.write("certs/ca.pem", "x");
  const cwd_guard guard;
  std::filesystem::current_path(dir.path());
  const auto r = config::load_string(R"(version: 1
server_name: gw
listeners: [{name: a, address: "127.0.0.1:0"}]
mapi: {internal_url: "https://mail.corp.test/mapi"}
backends: [{name: mbx01, address: "10.0.0.11:444", tls: {ca: certs/ca.pem}}]
routes: [{default: true, backend: mbx01}]
)",
                                     "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(r.config->backends[0].tls->ca_file,
            (std::filesystem::current_path() / "certs/ca.pem").string());
}

TEST(loader_test, deploy_example_loads_cleanly) {
  const std::filesystem::path example =
      std::filesystem::path(MAPIGATE_SOURCE_DIR) / "deploy" / "mapigate.example.yaml";
  std::ifstream in(example);
  ASSERT_TRUE(in) << "cannot open " << example;
  std::stringstream text;
  text << in.rdbuf();

  const config_test::temp_dir dir;
  const std::string path = dir.write("mapigate.yaml", text.str());
  for (const char* f :
       {"certs/mail.corp.test.pem", "certs/mail.corp.test.key", "certs/outlook.example.test.pem",
        "certs/outlook.example.test.key", "certs/autodiscover.example.test.pem",
        "certs/autodiscover.example.test.key", "certs/corp-root-ca.pem"}) {
    dir.write(f, "dummy");
  }
  dir.write("keys/affinity-current.key", std::string(64, 'c') + "\n");
  dir.write("keys/affinity-previous.key", std::string(64, 'p') + "\n");
  const auto r = config::load_file(path);
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  EXPECT_TRUE(r.diagnostics.empty());
  const config::snapshot& s = *r.config;
  EXPECT_EQ(s.listeners.size(), 2u);
  // The example spells out the TLS policy defaults: they must stay the defaults.
  ASSERT_TRUE(s.listeners[0].tls && s.listeners[1].tls);
  EXPECT_EQ(s.listeners[0].tls->ciphers, s.listeners[1].tls->ciphers);
  EXPECT_EQ(s.listeners[0].tls->ciphersuites, s.listeners[1].tls->ciphersuites);
  EXPECT_EQ(s.listeners[0].tls->curves, s.listeners[1].tls->curves);
  EXPECT_EQ(s.backends.size(), 3u);
  EXPECT_EQ(s.pools.size(), 2u);
  EXPECT_TRUE(s.mapi.internal_url && s.mapi.external_url);
  EXPECT_TRUE(s.default_route);
  bool has_mailbox = false;
  bool has_domain = false;
  for (const auto& rt : s.routes) {
    has_mailbox = has_mailbox || rt.kind == config::route_kind::mailbox;
    has_domain = has_domain || rt.kind == config::route_kind::domain;
  }
  EXPECT_TRUE(has_mailbox && has_domain);
  EXPECT_EQ(s.mailboxes.size(), 1u);
  ASSERT_TRUE(s.affinity);
  EXPECT_EQ(s.affinity->keys,
            (std::vector<std::string>{std::string(64, 'c'), std::string(64, 'p')}));
}

TEST(loader_test, deploy_example_paths_resolve_next_to_the_file) {
  const std::string deploy = std::string(MAPIGATE_SOURCE_DIR) + "/deploy";
  const auto r = config::load_file(deploy + "/mapigate.example.yaml");
  // No certificates or keys are shipped next to the example: each of the 6 certificate/key
  // paths, 3 CA paths and 2 affinity key paths is reported, resolved against deploy/ (not the
  // working directory).
  EXPECT_FALSE(r);
  ASSERT_EQ(r.diagnostics.size(), 11u) << ::testing::PrintToString(messages(r));
  std::size_t keys = 0;
  for (const auto& d : r.diagnostics) {
    const bool cert = d.message.find("cannot read \"" + deploy + "/certs/") != std::string::npos;
    const bool key = d.message.find("cannot read \"" + deploy + "/keys/") != std::string::npos;
    EXPECT_TRUE(cert || key) << d.to_string();
    keys += key ? 1 : 0;
  }
  EXPECT_EQ(keys, 2u);
}

}  // namespace
