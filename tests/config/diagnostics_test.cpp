// Exact diagnostics (file:line:col: message) for schema, type and value errors, table-driven.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"
#include "test_support.hpp"

namespace {

struct diag_case {
  std::string name;
  std::string yaml;
  std::vector<std::string> expected;
};

class diagnostics_test : public ::testing::TestWithParam<diag_case> {};

TEST_P(diagnostics_test, reports_exactly) {
  const auto r = config::load_string(GetParam().yaml, "t.yaml");
  EXPECT_FALSE(r);
  EXPECT_EQ(r.config, nullptr);
  EXPECT_EQ(config_test::messages(r), GetParam().expected);
}

// The valid core the cases below deviate from: lines 1-10 without routes, 11-13 with them.
const std::string core_without_routes = R"(version: 1
server_name: gw
listeners:
  - name: http
    address: 127.0.0.1:8080
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
)";

std::string valid_with(const std::string& tail) {
  return core_without_routes + "routes:\n  - default: true\n    backend: mbx01\n" + tail;
}

const diag_case cases[] = {
    {"backend_fqdn",
     core_without_routes + R"(    fqdn: "mbx01,corp.test"
  - name: mbx02
    fqdn: mbx02.corp.test
    address: 10.0.0.12:443
routes:
  - default: true
    backend: mbx01
)",
     {"t.yaml:11:11: backends[0].fqdn: invalid host name \"mbx01,corp.test\" (a DNS name, e.g. "
      "mbx01.corp.test)"}},
    {"backend_health_check",
     R"(version: 1
server_name: gw
listeners:
  - name: http
    address: 127.0.0.1:8080
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
    health_check:
      path: mapi/x y
      status: 700
      enabled: maybe
      expect: 200
  - name: mbx02
    address: 10.0.0.12:444
    health_check:
      path: "/mapi/healthcheck.htm#top"
routes:
  - default: true
    backend: mbx01
)",
     {"t.yaml:12:13: backends[0].health_check.path: health check path \"mapi/x y\" must start "
      "with '/' and hold only visible ASCII (no spaces, no '#')",
      "t.yaml:13:15: backends[0].health_check.status: expected an integer in 100..599, got "
      "\"700\"",
      "t.yaml:14:16: backends[0].health_check.enabled: expected true or false, got \"maybe\"",
      "t.yaml:15:7: unknown key \"expect\" in backends[0].health_check",
      "t.yaml:19:13: backends[1].health_check.path: health check path "
      "\"/mapi/healthcheck.htm#top\" must start with '/' and hold only visible ASCII (no "
      "spaces, no '#')"}},
    {"unknown_keys",
     R"(version: 1
server_name: gw
listeners:
  - name: http
    adress: 127.0.0.1:8080
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
routes:
  - default: true
    backend: mbx01
timeout:
  handshake: 5s
colour: blue
)",
     {"t.yaml:4:5: listeners[0]: missing required key \"address\"",
      "t.yaml:5:5: unknown key \"adress\" in listeners[0] (did you mean \"address\"?)",
      "t.yaml:14:1: unknown key \"timeout\" at the top level (did you mean \"timeouts\"?)",
      "t.yaml:16:1: unknown key \"colour\" at the top level"}},
    {"missing_required_top_level_keys",
     R"(version: 1
listeners:
  - name: http
    address: 127.0.0.1:8080
mapi:
  internal_url: https://mail.corp.test/mapi
routes:
  - default: true
    backend: mbx01
)",
     {"t.yaml:1:1: missing required key \"server_name\"",
      "t.yaml:1:1: missing required key \"backends\""}},
    {"missing_nested_keys",
     R"(version: 1
server_name: gw
listeners:
  - address: 127.0.0.1:8080
mapi: {}
backends:
  - name: mbx01
routes:
  - default: true
    backend: mbx01
)",
     {"t.yaml:4:5: listeners[0]: missing required key \"name\"",
      "t.yaml:5:7: mapi: at least one of \"internal_url\" or \"external_url\" is required",
      "t.yaml:7:5: backends[0]: missing required key \"address\""}},
    {"wrong_types",
     R"(version: 1
server_name: [gw]
workers: many
listeners:
  name: http
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
    weight: 0
    tls:
      verify: yes
routes:
  - default: true
    backend: mbx01
timeouts: 30s
)",
     {"t.yaml:2:14: server_name: expected a string, got a sequence",
      "t.yaml:3:10: workers: expected an integer in 0..256, got \"many\"",
      "t.yaml:5:3: listeners: expected a sequence, got a map",
      "t.yaml:11:13: backends[0].weight: expected an integer in 1..10000, got \"0\"",
      "t.yaml:13:15: backends[0].tls.verify: expected true or false, got \"yes\"",
      "t.yaml:17:11: timeouts: expected a map, got \"30s\""}},
    {"version_null_and_empty_values",
     R"(version: 2
server_name:
workers: 257
listeners: []
mapi:
  internal_url: ""
backends:
  - name: mbx01
    address: 10.0.0.11:444
routes:
  - default: true
    backend: mbx01
)",
     {"t.yaml:1:10: version: unsupported version \"2\" (this build reads version 1)",
      "t.yaml:2:1: server_name: expected a string, got null",
      "t.yaml:3:10: workers: expected an integer in 0..256, got \"257\"",
      "t.yaml:4:12: listeners: must not be empty",
      "t.yaml:6:17: mapi.internal_url: must not be empty"}},
    {"bad_durations",
     valid_with(R"(timeouts:
  handshake: 0s
  header_read: 30
  keepalive_idle: 25h
  body_idle: 1.5s
  client_write: -1s
  upstream_connect: 5 s
  upstream_idle: 2m
  upstream_keepalive: [30s]
)"),
     {"t.yaml:15:14: timeouts.handshake: duration must be greater than 0, got \"0s\"",
      "t.yaml:16:16: timeouts.header_read: invalid duration \"30\" (expected a number with unit "
      "ms, s, m, h or d)",
      "t.yaml:17:19: timeouts.keepalive_idle: duration \"25h\" is longer than 24h",
      "t.yaml:18:14: timeouts.body_idle: invalid duration \"1.5s\" (expected a number with unit "
      "ms, s, m, h or d)",
      "t.yaml:19:17: timeouts.client_write: invalid duration \"-1s\" (expected a number with "
      "unit ms, s, m, h or d)",
      "t.yaml:20:21: timeouts.upstream_connect: invalid duration \"5 s\" (expected a number with "
      "unit ms, s, m, h or d)",
      "t.yaml:22:23: timeouts.upstream_keepalive: expected a duration, got a sequence"}},
    {"bad_sizes_and_counts",
     valid_with(R"(limits:
  header_bytes: 16KB
  mapi_body_bytes: 2GiB
  max_requests_per_connection: 0
  upstream_idle_per_backend: 100001
  max_client_connections: -5
)"),
     {"t.yaml:15:17: limits.header_bytes: invalid size \"16KB\" (expected a byte count or a "
      "number with unit B, KiB, MiB or GiB)",
      "t.yaml:16:20: limits.mapi_body_bytes: size \"2GiB\" out of range 1..1GiB",
      "t.yaml:17:32: limits.max_requests_per_connection: expected an integer >= 1, got \"0\"",
      "t.yaml:18:30: limits.upstream_idle_per_backend: expected an integer in 0..100000, got "
      "\"100001\"",
      "t.yaml:19:27: limits.max_client_connections: expected an integer >= 1, got \"-5\""}},
    {"sizes_out_of_range",
     valid_with(R"(limits:
  header_bytes: 512
  mapi_body_bytes: 99999999999999999999GiB
)"),
     {"t.yaml:15:17: limits.header_bytes: size \"512\" out of range 1KiB..1MiB",
      "t.yaml:16:20: limits.mapi_body_bytes: size \"99999999999999999999GiB\" out of range "
      "1..1GiB"}},
    {"backend_values",
     R"(version: 1
server_name: gw
listeners:
  - name: http
    address: 127.0.0.1:8080
mapi:
  external_url: https://outlook.example.test/mapi
backends:
  - name: mbx 01
    address: 10.0.0.11:0
    tls:
      sni: [a]
      ca: ""
  - name: this-name-is-far-too-long-for-a-backend-because-it-has-65-chars-x
    address: 10.0.0.12:444
routes:
  - default: true
    backend: mbx01
)",
     {"t.yaml:9:11: backends[0].name: invalid backend name \"mbx 01\" (use letters, digits, "
      "\".\", \"_\" and \"-\", at most 64 characters)",
      "t.yaml:10:14: backends[0].address: invalid address \"10.0.0.11:0\": port 0 out of range "
      "1..65535",
      "t.yaml:12:12: backends[0].tls.sni: expected a string, got a sequence",
      "t.yaml:14:11: backends[1].name: invalid backend name "
      "\"this-name-is-far-too-long-for-a-backend-because-it-has-65-chars-x\" (use letters, "
      "digits, \".\", \"_\" and \"-\", at most 64 characters)",
      "t.yaml:18:14: routes[0].backend: unknown backend \"mbx01\""}},
    {"vdirs",
     valid_with(R"(vdirs:
  ews:
    publish: somewhere
    authentication: [ntlm, kerberos]
  autodiscovery: {}
  ecp:
    health_check: ecp/healthcheck.htm
  rpc:
    body_limit: 8GiB
namespaces:
  internal: ["autodiscover.corp.test:443"]
  external: [autodiscover.example.test]
)"),
     {"t.yaml:16:14: vdirs.ews.publish: expected internal, external or both, not \"somewhere\"",
      "t.yaml:17:28: vdirs.ews.authentication[1]: unknown authentication method \"kerberos\" "
      "(expected ntlm, negotiate, basic, oauth or forms)",
      "t.yaml:18:3: vdirs.autodiscovery: unknown virtual directory \"autodiscovery\" (known: "
      "autodiscover, ews, oab, rpc, activesync, owa, ecp, powershell; /mapi is configured under "
      "mapi:)",
      "t.yaml:20:19: vdirs.ecp.health_check: expected false or an origin-form path such as "
      "\"/EWS/healthcheck.htm\"",
      "t.yaml:22:17: vdirs.rpc.body_limit: size \"8GiB\" out of range 0..4GiB",
      "t.yaml:24:3: namespaces: external host names without mapi.external_url",
      "t.yaml:24:14: namespaces.internal[0]: invalid host name \"autodiscover.corp.test:443\" "
      "(no port, no scheme)"}},
    {"auth_protection",
     valid_with(R"(auth_protection:
  user_threshold: 0
  address_threshold: 2
  window: forever
  exempt: [10.0.0.0/8, 10.0.0.0/40, monitoring.corp.test]
  domains: [CORP]
  table_size: 10
)"),
     {"t.yaml:15:3: auth_protection: address_threshold below user_threshold: one user's "
      "mistakes would hold a shared address first",
      "t.yaml:15:19: auth_protection.user_threshold: expected an integer in 1..1000, got \"0\"",
      "t.yaml:17:11: auth_protection.window: invalid duration \"forever\" (expected a number "
      "with unit ms, s, m, h or d)",
      "t.yaml:18:24: auth_protection.exempt[1]: invalid network \"10.0.0.0/40\" (an address or "
      "CIDR: 10.0.0.0/8, 2001:db8::/32)",
      "t.yaml:18:37: auth_protection.exempt[2]: invalid network \"monitoring.corp.test\" (an "
      "address or CIDR: 10.0.0.0/8, 2001:db8::/32)",
      "t.yaml:19:12: auth_protection.domains: expected a map of NetBIOS domain: UPN suffix (CORP: "
      "corp.test)",
      "t.yaml:20:15: auth_protection.table_size: expected an integer in 1024..10000000, got "
      "\"10\""}},
    {"proxy_protocol",
     R"(version: 1
server_name: gw
listeners:
  - name: http
    address: 127.0.0.1:8080
    proxy_protocol: v3
  - name: lb
    address: 127.0.0.1:8081
    proxy_protocol: v2
    trusted_sources: [10.0.0.0/33]
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
routes:
  - default: true
    backend: mbx01
)",
     {"t.yaml:6:21: listeners[0].proxy_protocol: expected v1, v2, any or off, not \"v3\"",
      "t.yaml:7:5: listeners[1]: proxy_protocol needs trusted_sources: the balancers' addresses "
      "(anyone else could claim any client address)",
      "t.yaml:10:23: listeners[1].trusted_sources[0]: invalid network \"10.0.0.0/33\" (an "
      "address or CIDR: 10.0.0.0/8)"}},
    {"no_routes_key",
     core_without_routes,
     {"t.yaml:1:1: no route: add a `default: true` route or mailbox/domain routes"}},
    {"empty_routes",
     core_without_routes + "routes: []\n",
     {"t.yaml:11:9: no route: add a `default: true` route or mailbox/domain routes"}},
    {"duplicate_yaml_key",
     valid_with("server_name: gw2\n"),
     {"t.yaml:14:1: duplicate key \"server_name\" at the top level"}},
    {"top_level_not_a_map",
     "just a string\n",
     {"t.yaml:1:1: expected a map, got \"just a string\""}},
    {"empty_document", "# nothing here\n", {"t.yaml: the configuration is empty"}},
    {"yaml_syntax_error",
     "version: 1\nlisteners: [a,\nmapi: {}\n",
     {"t.yaml:4:1: invalid YAML: end of sequence flow not found"}},
};

INSTANTIATE_TEST_SUITE_P(config, diagnostics_test, ::testing::ValuesIn(cases),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(diagnostics_test, unreadable_file_has_no_position) {
  const config_test::temp_dir dir;
  const std::string path = (dir.path() / "absent.yaml").string();
  const auto r = config::load_file(path);
  EXPECT_FALSE(r);
  EXPECT_EQ(config_test::messages(r),
            std::vector<std::string>{path + ": cannot read file: No such file or directory"});
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].line, 0);
}

TEST(diagnostics_test, to_string_formats) {
  EXPECT_EQ((config::diagnostic{"a.yaml", 3, 7, "boom"}.to_string()), "a.yaml:3:7: boom");
  EXPECT_EQ((config::diagnostic{"a.yaml", 0, 0, "boom"}.to_string()), "a.yaml: boom");
}

}  // namespace
