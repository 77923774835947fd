// Diagnostics that involve files next to the config: certificates, keys, CA bundles, TLS options.
#include <gtest/gtest.h>

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

}  // namespace
