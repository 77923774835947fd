// `mapigate check`: the deploy example passes; broken configs fail with file:line:col.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include <sys/wait.h>
#include <filesystem>

#include "tests/support/gateway.hpp"
#include "tests/support/shell.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

command_result run_check(const std::string& file) {
  // `file` may carry options before the path ("--strict FILE").
  const auto space = file.rfind(' ');
  return run_shell(std::string(MAPIGATE_BINARY) + " check " +
                   (space == std::string::npos ? "" : file.substr(0, space + 1)) + "-c " +
                   file.substr(space == std::string::npos ? 0 : space + 1));
}

TEST(Cli, DeployExamplePassesCheck) {
  temp_dir dir;
  const auto example =
      std::filesystem::path(MAPIGATE_SOURCE_DIR) / "deploy" / "mapigate.example.yaml";
  const auto file = dir.file("mapigate.yaml");
  std::filesystem::copy_file(example, file);
  std::filesystem::create_directories(dir.path() / "certs");
  auto& pki = test_pki::instance();
  for (const char* name : {"mail.corp.test", "outlook.example.test", "autodiscover.example.test"}) {
    const auto l = pki.issue(std::string("example-") + name, {name});
    std::filesystem::copy_file(l.cert, dir.file(std::string("certs/") + name + ".pem"));
    std::filesystem::copy_file(l.key, dir.file(std::string("certs/") + name + ".key"));
  }
  std::filesystem::copy_file(pki.ca_file(), dir.file("certs/corp-root-ca.pem"));
  std::filesystem::create_directories(dir.path() / "keys");
  write_file(dir.file("keys/affinity-current.key"), std::string(64, 'c') + "\n");
  write_file(dir.file("keys/affinity-previous.key"), std::string(64, 'p') + "\n");
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("configuration OK"), std::string::npos) << r.output;
}

TEST(Cli, BrokenConfigFailsWithPositions) {
  temp_dir dir;
  const auto file = dir.file("broken.yaml");
  write_file(file,
             "version: 1\n"
             "server_name: fe01.corp.test\n"
             "listeners:\n"
             "  - name: front\n"
             "    adress: 127.0.0.1:443\n"
             "mapi:\n"
             "  internal_url: https://mail.corp.test/mapi\n"
             "backends:\n"
             "  - name: mbx01\n"
             "    address: 127.0.0.1:443\n"
             "routes:\n"
             "  - default: true\n"
             "    pool: nowhere\n"
             "timeouts:\n"
             "  header_read: 30\n");
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(file + ":5:5: unknown key \"adress\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(file + ":13:11: routes[0].pool: unknown pool \"nowhere\""),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(file + ":15:16: timeouts.header_read: invalid duration \"30\""),
            std::string::npos)
      << r.output;
}

TEST(Cli, KeyThatDoesNotMatchTheCertificateFails) {
  temp_dir dir;
  auto& pki = test_pki::instance();
  auto a = namespace_certificate();
  auto b = pki.issue("other", {"other.corp.test"});
  gateway_options o{.backends = {{"mbx01", 443}}, .certificates = {{a.cert, b.key}}};
  const auto file = dir.file("mismatch.yaml");
  write_file(file, gateway_yaml(o));
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("does not match"), std::string::npos) << r.output;
  // At the line of the certificate in the file.
  EXPECT_TRUE(std::regex_search(r.output, std::regex("mismatch\\.yaml:[0-9]+:[0-9]+: error: ")))
      << r.output;
}

TEST(Cli, CertificateThatDoesNotCoverBothNamespacesFails) {
  temp_dir dir;
  auto only_internal = test_pki::instance().issue("internal-only", {internal_host});
  gateway_options o{.backends = {{"mbx01", 443}}, .certificates = {only_internal}};
  const auto file = dir.file("names.yaml");
  write_file(file, gateway_yaml(o, dir.path().string()));
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(std::string("certificate covering ") + external_host), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find(std::string("certificate covering ") + internal_host), std::string::npos)
      << r.output;
}

// Autodiscover's own host name (namespaces:) is checked like the MAPI hosts.
TEST(Cli, AutodiscoverHostNeedsTheCertificateToo) {
  temp_dir dir;
  gateway_options o{.backends = {{"mbx01", 443}},
                    .extra_yaml =
                        "namespaces:\n  external: [autodiscover.example.test]\n"
                        "vdirs:\n  autodiscover:\n"};
  const auto file = dir.file("autodiscover.yaml");
  write_file(file, gateway_yaml(o, dir.path().string()));
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("certificate covering autodiscover.example.test"), std::string::npos)
      << r.output;
  auto with = test_pki::instance().issue(
      "with-autodiscover", {internal_host, external_host, "autodiscover.example.test"});
  o.certificates = {with};
  write_file(file, gateway_yaml(o, dir.path().string()));
  EXPECT_EQ(run_check(file).status, 0);
}

// A namespace on an IP address (no DNS name) is covered by a certificate's iPAddress SAN, as a
// client checks it; it was reported as not covered while `run` served it.
TEST(Cli, AnIpNamespaceIsCoveredByAnIpAddressSan) {
  temp_dir dir;
  auto with_ip = test_pki::instance().issue("ip-namespace", {external_host}, {"10.0.0.5"});
  gateway_options o{.backends = {{"mbx01", 443}}, .certificates = {with_ip}};
  auto yaml = gateway_yaml(o, dir.path().string());
  const std::string internal = std::string("https://") + internal_host + "/mapi";
  yaml.replace(yaml.find(internal), internal.size(), "https://10.0.0.5/mapi");
  const auto file = dir.file("ip.yaml");
  write_file(file, yaml);
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("certificate covering"), std::string::npos) << r.output;
  // The same certificate does not cover another address.
  yaml.replace(yaml.find("https://10.0.0.5/mapi"), 21, "https://10.0.0.6/mapi");
  write_file(file, yaml);
  EXPECT_NE(run_check(file).output.find("certificate covering 10.0.0.6"), std::string::npos);
}

TEST(Cli, CertificateExpiringSoonWarnsAndExpiredFails) {
  temp_dir dir;
  auto soon = test_pki::instance().issue("expiring", {internal_host, external_host}, {}, 10);
  gateway_options o{.backends = {{"mbx01", 443}}, .certificates = {soon}};
  const auto file = dir.file("soon.yaml");
  write_file(file, gateway_yaml(o, dir.path().string()));
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.output.find("expires in 9 day(s)") != std::string::npos ||
              r.output.find("expires in 10 day(s)") != std::string::npos)
      << r.output;
  EXPECT_EQ(run_check("--strict " + file).status, 1);
  // The warning is at the certificate's line in the file, with the date.
  EXPECT_TRUE(std::regex_search(r.output, std::regex(":[0-9]+:[0-9]+: warning: certificate .* "
                                                     "expires in [0-9]+ day\\(s\\), on 20")))
      << r.output;

  const auto check_with = [&](const leaf& cert, const char* name) {
    gateway_options dated{.backends = {{"mbx01", 443}}, .certificates = {cert}};
    const auto f = dir.file(name);
    const auto yaml = gateway_yaml(dated, dir.path().string());
    write_file(f, yaml);
    // The line of `cert:` in the file, 1-based.
    const auto line = 1 + std::count(yaml.begin(), yaml.begin() + yaml.find("cert: "), '\n');
    return std::make_pair(run_check(f), f + ":" + std::to_string(line) + ":");
  };
  const auto expired = test_pki::instance().issue_dated("expired", {internal_host, external_host},
                                                        {"20200101000000Z", "20210101000000Z"});
  const auto [gone, gone_at] = check_with(expired, "expired.yaml");
  EXPECT_EQ(gone.status, 1) << gone.output;
  EXPECT_NE(gone.output.find(gone_at), std::string::npos) << gone.output;
  EXPECT_NE(gone.output.find("has expired (2021-01-01T00:00:00"), std::string::npos) << gone.output;
  const auto future = test_pki::instance().issue_dated("future", {internal_host, external_host},
                                                       {"20990101000000Z", "20991231000000Z"});
  const auto [early, early_at] = check_with(future, "future.yaml");
  EXPECT_EQ(early.status, 1) << early.output;
  EXPECT_NE(early.output.find(early_at), std::string::npos) << early.output;
  EXPECT_NE(early.output.find("is not valid before 2099-01-01T00:00:00"), std::string::npos)
      << early.output;
}

/// A TLS mailbox server presenting a certificate of its own (for mbx01.corp.test), not the
/// front one.
std::unique_ptr<sim::server> tls_backend_with_its_own_certificate() {
  const auto own = test_pki::instance().issue("mbx01-own", {"mbx01.corp.test"});
  sim::options so;
  so.cert_file = own.cert;
  so.key_file = own.key;
  auto s = std::make_unique<sim::server>(so);
  s->start();
  return s;
}

// Valid but unsafe values are warnings (--strict fails on them); a backend that is reachable
// but fails TLS verification is an error with --backends: mapigate would refuse every request.
TEST(Cli, UnsafeValuesWarnAndABackendFailingVerificationIsAnError) {
  auto mbx_server = tls_backend_with_its_own_certificate();
  auto& mbx = *mbx_server;
  temp_dir dir;
  gateway_options o{
      .backends = {{.name = "mbx01", .port = mbx.port(), .tls = true, .sni = "other.corp.test"}},
      .timeouts = {{"upstream_idle", "10s"}}};
  const auto file = dir.file("unsafe.yaml");
  write_file(file, gateway_yaml(o, dir.path().string()));
  const auto r = run_check(file);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: timeouts.upstream_idle: 10s is shorter than Exchange's "
                          "longest PENDING period"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(run_check("--strict " + file).status, 1);
  const auto b = run_check("--backends " + file);
  EXPECT_EQ(b.status, 1) << b.output;
  EXPECT_NE(b.output.find("error: backend mbx01: TLS failed"), std::string::npos) << b.output;
}

TEST(Cli, BackendWithAnotherCertificateWarnsAndStrictFails) {
  auto mbx_server = tls_backend_with_its_own_certificate();
  auto& mbx = *mbx_server;
  temp_dir dir;
  gateway_options o{
      .backends = {{.name = "mbx01", .port = mbx.port(), .tls = true, .sni = "mbx01.corp.test"}}};
  const auto file = dir.file("backend.yaml");
  write_file(file, gateway_yaml(o, dir.path().string()));
  EXPECT_EQ(run_check(file).status, 0);  // without --backends nothing is contacted
  const auto r = run_check("--backends " + file);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("presents a certificate other than the front one"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("configuration OK (1 warning(s))"), std::string::npos) << r.output;
  EXPECT_EQ(run_check("--strict --backends " + file).status, 1);
}

}  // namespace
}  // namespace testing_support
