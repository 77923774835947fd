// In-process mapigate for integration tests.
#include "tests/support/gateway.hpp"

#include <sstream>
#include <stdexcept>

#include "config/loader.hpp"

namespace testing_support {

leaf namespace_certificate() {
  return test_pki::instance().issue("namespaces", {internal_host, external_host});
}

std::string gateway_yaml(const gateway_options& o, const std::string& dir) {
  std::ostringstream y;
  y << "version: 1\nserver_name: fe01.corp.test\nworkers: " << o.workers << "\n";
  y << "listeners:\n  - name: front\n    address: 127.0.0.1:" << o.listener_port << "\n"
    << o.listener_yaml;
  if (o.tls) {
    y << "    tls:\n      certificates:\n";
    auto certs = o.certificates;
    if (certs.empty()) certs.push_back(namespace_certificate());
    for (const auto& c : certs)
      y << "        - cert: " << c.cert << "\n          key: " << c.key << "\n";
    if (!o.listener_alpn.empty()) y << "      alpn: " << o.listener_alpn << "\n";
    y << o.listener_tls_yaml;
  }
  y << "mapi:\n  internal_url: https://" << internal_host << "/mapi\n  external_url: https://"
    << external_host << "/mapi\n";
  if (o.mapi_yaml.find("authentication:") == std::string::npos)
    y << "  authentication: [ntlm, negotiate, basic, oauth]\n";
  y << o.mapi_yaml;
  y << "backends:\n";
  for (const auto& b : o.backends) {
    y << "  - name: " << b.name << "\n    address: 127.0.0.1:" << b.port << "\n";
    if (!b.state.empty()) y << "    state: " << b.state << "\n";
    if (b.weight) y << "    weight: " << b.weight << "\n";
    if (b.tls) {
      y << "    tls:\n      ca: " << test_pki::instance().ca_file()
        << "\n      verify: " << (b.verify ? "true" : "false") << "\n";
      if (!b.sni.empty()) y << "      sni: " << b.sni << "\n";
    }
    y << b.yaml;
  }
  if (o.pools_yaml.empty()) {
    y << "pools:\n  - name: dag1\n    members: [";
    for (std::size_t i = 0; i < o.backends.size(); ++i)
      y << (i ? ", " : "") << o.backends[i].name;
    y << "]\n";
  } else {
    y << o.pools_yaml;
  }
  y << (o.routes_yaml.empty() ? "routes:\n  - default: true\n    pool: dag1\n" : o.routes_yaml);
  if (!o.timeouts.empty()) {
    y << "timeouts:\n";
    for (const auto& [k, v] : o.timeouts)
      y << "  " << k << ": " << v << "\n";
  }
  if (!o.limits.empty()) {
    y << "limits:\n";
    for (const auto& [k, v] : o.limits)
      y << "  " << k << ": " << v << "\n";
  }
  if (!o.affinity_key.empty()) {
    const std::string key_file = (dir.empty() ? std::string(".") : dir) + "/affinity.key";
    write_file(key_file, o.affinity_key);
    y << "affinity:\n  key_files: [" << key_file << "]\n";
  }
  if (!o.logs_yaml.empty()) {
    y << "logs:\n";
    if (o.logs_yaml.find("directory:") == std::string::npos)
      y << "  directory: " << (dir.empty() ? std::string(".") : dir) << "/logs\n";
    y << o.logs_yaml;
  }
  // Active health checks would add requests and connections to every simulator's records:
  // tests that want them say so.
  if (o.extra_yaml.find("health:") == std::string::npos) y << "health:\n  active: false\n";
  // Ephemeral admin port: parallel tests never collide on the default 9464.
  if (o.extra_yaml.find("admin:") == std::string::npos) y << "admin:\n  address: 127.0.0.1:0\n";
  y << o.extra_yaml;
  return y.str();
}

gateway::gateway(gateway_options o) : opts_(std::move(o)) {
  config_file_ = dir_.file("mapigate.yaml");
  const auto yaml = gateway_yaml(opts_, dir_.path().string());
  write_file(config_file_, yaml);
  auto r = config::load_file(config_file_);
  if (!r) {
    std::string all;
    for (const auto& d : r.diagnostics)
      all += d.to_string() + "\n";
    throw std::runtime_error("test config rejected:\n" + all + yaml);
  }
  server_ = std::make_unique<proxy::server>(r.config);
  server_->start();
}

gateway::~gateway() {
  if (server_) server_->stop(std::chrono::milliseconds(0));
}

std::uint16_t gateway::port() const {
  return server_->port(0);
}

std::uint16_t gateway::admin_port() const {
  return server_->admin_port();
}

test_client gateway::client(const std::string& sni) const {
  if (!opts_.tls) return test_client::plain(port());
  return test_client::tls(port(), sni, test_pki::instance().ca_file());
}

}  // namespace testing_support
