// Diagnostics that involve files next to the config: certificates, keys, CA bundles, TLS options.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "test_support.hpp"

namespace {

class tls_files_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("certs/a.pem", "-----BEGIN CERTIFICATE-----\n");
    dir_.write("certs/a.key", "-----BEGIN PRIVATE KEY-----\n");
    dir_.write("certs/ca.pem", "-----BEGIN CERTIFICATE-----\n");
  }

  // Writes `yaml` as <dir>/mapigate.yaml and loads it; returns the diagnostics.
  std::vector<std::string> load(const std::string& yaml) {
    config_path_ = dir_.write("mapigate.yaml", yaml);
    return config_test::messages(config::load_file(config_path_));
  }

  std::string in_dir(const std::string& relative) const {
    return (dir_.path() / relative).string();
  }

  config_test::temp_dir dir_;
  std::string config_path_;
};

TEST_F(tls_files_test, alpn_min_version_and_missing_ca) {
  const auto got = load(R"(version: 1
server_name: gw
listeners:
  - name: https
    address: 127.0.0.1:8443
    tls:
      certificates:
        - cert: certs/a.pem
          key: certs/a.key
      min_version: 1.1
      alpn: [http/1.1, h2, spdy/3, http/1.1]
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
    tls:
      ca: certs/missing-ca.pem
routes:
  - default: true
    backend: mbx01
)");
  const std::string f = config_path_;
  EXPECT_EQ(got, (std::vector<std::string>{
                     f + ":10:20: listeners[0].tls.min_version: unsupported TLS version \"1.1\" "
                         "(expected \"1.2\" or \"1.3\")",
                     f + ":11:28: listeners[0].tls.alpn[2]: unknown ALPN protocol \"spdy/3\"",
                     f + ":11:36: listeners[0].tls.alpn[3]: duplicate ALPN protocol \"http/1.1\"",
                     f + ":18:11: backends[0].tls.ca: cannot read \"" +
                         in_dir("certs/missing-ca.pem") + "\": No such file or directory"}));
}

TEST_F(tls_files_test, certificate_files_and_shapes) {
  const auto got = load(R"(version: 1
server_name: gw
listeners:
  - name: a
    address: 127.0.0.1:8443
    tls:
      certificates:
        - cert: certs/a.pem
          key: certs/missing.key
        - cert: certs
          key: )" + in_dir("certs/a.key") +
                        R"(
        - key: certs/a.key
  - name: b
    address: 127.0.0.1:8444
    tls:
      certificates: []
      alpn: []
  - name: c
    address: 127.0.0.1:8445
    tls: {}
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
routes:
  - default: true
    backend: mbx01
)");
  const std::string f = config_path_;
  EXPECT_EQ(got, (std::vector<std::string>{
                     f + ":9:16: listeners[0].tls.certificates[0].key: cannot read \"" +
                         in_dir("certs/missing.key") + "\": No such file or directory",
                     f + ":10:17: listeners[0].tls.certificates[1].cert: \"" + in_dir("certs") +
                         "\" is not a regular file",
                     f + ":12:11: listeners[0].tls.certificates[2]: missing required key \"cert\"",
                     f + ":16:21: listeners[1].tls.certificates: must not be empty",
                     f + ":17:13: listeners[1].tls.alpn: must not be empty",
                     f + ":20:10: listeners[2].tls: missing required key \"certificates\""}));
}

// tls.ciphers / ciphersuites / curves: each bad value is reported at its position, naming the
// key and the entry OpenSSL would reject or silently skip.
struct policy_case {
  std::string name;
  std::string lines;                  ///< under `tls:` of the listener, from line 10
  std::vector<std::string> expected;  ///< without the "<file>:" prefix
};

void PrintTo(const policy_case& c, std::ostream* os) {
  *os << c.name;
}

class tls_policy_diagnostics : public tls_files_test,
                               public ::testing::WithParamInterface<policy_case> {};

TEST_P(tls_policy_diagnostics, reports_exactly) {
  const auto got = load(R"(version: 1
server_name: gw
listeners:
  - name: https
    address: 127.0.0.1:8443
    tls:
      certificates:
        - cert: certs/a.pem
          key: certs/a.key
)" + GetParam().lines + R"(mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
routes:
  - default: true
    backend: mbx01
)");
  std::vector<std::string> expected;
  for (const auto& e : GetParam().expected)
    expected.push_back(config_path_ + ":" + e);
  EXPECT_EQ(got, expected);
}

const std::string unknown_suite_hint =
    " (expected TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, "
    "TLS_AES_128_CCM_SHA256 or TLS_AES_128_CCM_8_SHA256)";
const std::string unknown_group_hint = " (e.g. X25519, prime256v1, secp384r1, ffdhe2048)";

INSTANTIATE_TEST_SUITE_P(
    tls_policy, tls_policy_diagnostics,
    ::testing::Values(
        policy_case{"misspelt_cipher_among_good_ones",
                    "      ciphers: ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265\n",
                    {"10:16: listeners[0].tls.ciphers: \"ECDHE-RSA-AES128-GCM-SHA265\" selects no "
                     "TLS 1.2 cipher (not a cipher name or alias that this OpenSSL offers)"}},
        policy_case{"cipher_string_selecting_nothing",
                    "      ciphers: ECDHE-RSA-AES128-GCM-SHA256:!ECDHE\n",
                    {"10:16: listeners[0].tls.ciphers: \"ECDHE-RSA-AES128-GCM-SHA256:!ECDHE\" "
                     "selects no TLS 1.2 cipher"}},
        policy_case{"unavailable_cipher_family",
                    "      ciphers: \"RC4:3DES\"\n",
                    {"10:16: listeners[0].tls.ciphers: \"RC4\" selects no TLS 1.2 cipher (not a "
                     "cipher name or alias that this OpenSSL offers)",
                     "10:16: listeners[0].tls.ciphers: \"3DES\" selects no TLS 1.2 cipher (not a "
                     "cipher name or alias that this OpenSSL offers)"}},
        policy_case{"tls13_suite_in_ciphers",
                    "      ciphers: TLS_AES_128_GCM_SHA256\n",
                    {"10:16: listeners[0].tls.ciphers: \"TLS_AES_128_GCM_SHA256\" is a TLS 1.3 "
                     "suite (set it in tls.ciphersuites)"}},
        policy_case{"empty_ciphers",
                    "      ciphers: \"\"\n",
                    {"10:16: listeners[0].tls.ciphers: must not be empty"}},
        policy_case{"ciphers_as_a_sequence",
                    "      ciphers: [ECDHE-RSA-AES128-GCM-SHA256]\n",
                    {"10:16: listeners[0].tls.ciphers: expected a string, got a sequence"}},
        policy_case{"unknown_tls13_suite",
                    "      ciphersuites: TLS_AES_128_GCM_SHA256:TLS_AES_512_GCM_SHA512\n",
                    {"10:21: listeners[0].tls.ciphersuites: unknown TLS 1.3 suite "
                     "\"TLS_AES_512_GCM_SHA512\"" +
                     unknown_suite_hint}},
        policy_case{"tls13_suite_names_are_case_sensitive",
                    "      ciphersuites: tls_aes_128_gcm_sha256\n",
                    {"10:21: listeners[0].tls.ciphersuites: unknown TLS 1.3 suite "
                     "\"tls_aes_128_gcm_sha256\"" +
                     unknown_suite_hint}},
        policy_case{"tls12_cipher_in_ciphersuites",
                    "      ciphersuites: ECDHE-RSA-AES128-GCM-SHA256\n",
                    {"10:21: listeners[0].tls.ciphersuites: \"ECDHE-RSA-AES128-GCM-SHA256\" is a "
                     "TLS 1.2 cipher (set it in tls.ciphers)"}},
        policy_case{"empty_and_duplicate_suites",
                    "      ciphersuites: TLS_AES_128_GCM_SHA256::TLS_AES_128_GCM_SHA256\n",
                    {"10:21: listeners[0].tls.ciphersuites: empty entry in "
                     "\"TLS_AES_128_GCM_SHA256::TLS_AES_128_GCM_SHA256\"",
                     "10:21: listeners[0].tls.ciphersuites: duplicate TLS 1.3 suite "
                     "\"TLS_AES_128_GCM_SHA256\""}},
        policy_case{"unknown_group",
                    "      curves: [X25519, prime257v1]\n",
                    {"10:24: listeners[0].tls.curves[1]: unknown group \"prime257v1\"" +
                     unknown_group_hint}},
        policy_case{"duplicate_group",
                    "      curves: [X25519, secp384r1, X25519]\n",
                    {"10:35: listeners[0].tls.curves[2]: duplicate group \"X25519\""}},
        policy_case{"one_group_under_two_names",
                    "      curves: [P-256, prime256v1]\n",
                    {"10:15: listeners[0].tls.curves: OpenSSL rejects the groups "
                     "\"P-256:prime256v1\" (the same group named twice?)"}},
        policy_case{
            "colon_list_instead_of_a_sequence",
            "      curves: X25519:prime256v1\n",
            {"10:15: listeners[0].tls.curves: expected a sequence, got \"X25519:prime256v1\""}},
        policy_case{"colon_list_as_one_entry",
                    "      curves: [\"X25519:prime256v1\"]\n",
                    {"10:16: listeners[0].tls.curves[0]: one group per entry, got "
                     "\"X25519:prime256v1\" (write a YAML sequence)"}},
        policy_case{"empty_groups",
                    "      curves: []\n",
                    {"10:15: listeners[0].tls.curves: must not be empty"}},
        policy_case{
            "all_three_keys_at_once",
            "      ciphers: NOPE\n      ciphersuites: NOPE\n      curves: [NOPE]\n",
            {"10:16: listeners[0].tls.ciphers: \"NOPE\" selects no TLS 1.2 cipher (not a "
             "cipher name or alias that this OpenSSL offers)",
             "11:21: listeners[0].tls.ciphersuites: unknown TLS 1.3 suite \"NOPE\"" +
                 unknown_suite_hint,
             "12:16: listeners[0].tls.curves[0]: unknown group \"NOPE\"" + unknown_group_hint}}),
    [](const ::testing::TestParamInfo<policy_case>& p) { return p.param.name; });

}  // namespace
