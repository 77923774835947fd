// An in-process mapigate for integration tests: config written to a temp file, real listeners
// on 127.0.0.1 port 0, simulated mailbox servers behind it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/server.hpp"
#include "tests/support/client.hpp"
#include "tests/support/pki.hpp"

namespace testing_support {

inline constexpr const char* internal_host = "mail.corp.test";
inline constexpr const char* external_host = "outlook.example.test";

struct backend_spec {
  std::string name;
  std::uint16_t port = 0;
  bool tls = false;
  std::string sni;  ///< backend TLS: name to send and verify
  bool verify = true;
  std::string state;    ///< "" (active) or "draining"
  unsigned weight = 0;  ///< 0: the config default
  std::string yaml;     ///< extra lines under this backend (each "    key: value\n")
};

struct gateway_options {
  std::vector<backend_spec> backends;
  /// YAML for `pools:` and `routes:` (each a full block); default: pool dag1 of every backend
  /// and a default route to it.
  std::string pools_yaml, routes_yaml;
  std::map<std::string, std::string> timeouts;  ///< e.g. {"header_read", "300ms"}
  std::map<std::string, std::string> limits;
  bool tls = true;
  std::vector<leaf> certificates;  ///< default: one certificate for both namespaces
  unsigned workers = 2;
  /// Extra lines under `mapi:` (each "  key: value\n"). Unless they set `authentication`, all
  /// four schemes are allowed (the captures use Basic).
  std::string mapi_yaml;
  std::string affinity_key;  ///< non-empty: an affinity section with this key (written to a file)
  std::string extra_yaml;    ///< appended at the top level (e.g. a `mailboxes:` block)
  /// Lines under `logs:` (each "  key: value\n"); non-empty turns HttpProxy logs on, into
  /// <dir>/logs unless they set `directory`.
  std::string logs_yaml;
  /// The listener's ALPN list, YAML flow form (e.g. "[h2, http/1.1]"); empty: the default.
  std::string listener_alpn;
  /// Extra lines under the listener's `tls:` (each "      key: value\n"), e.g. ciphers.
  std::string listener_tls_yaml;
  /// Extra lines under the listener itself (each "    key: value\n"), e.g. proxy_protocol.
  std::string listener_yaml;
  std::uint16_t listener_port = 0;  ///< 0: an ephemeral port
};

/// The YAML a gateway_options describes (exposed so the CLI tests can reuse it). `dir` is where
/// the affinity key file is written.
std::string gateway_yaml(const gateway_options& o, const std::string& dir = {});

/// A fixed 32-byte test affinity key.
inline const std::string test_affinity_key = "mapigate-test-affinity-key-0123456789";

/// The certificate covering both test namespaces.
leaf namespace_certificate();

class gateway {
 public:
  explicit gateway(gateway_options o);  ///< loads, validates and starts; throws with diagnostics
  ~gateway();
  std::uint16_t port() const;
  const std::string& config_file() const noexcept { return config_file_; }
  /// A TLS (or plain) client to this gateway, SNI = `sni`.
  test_client client(const std::string& sni = internal_host) const;
  proxy::server& server() noexcept { return *server_; }
  /// The admin listener's port (the test config binds it to 127.0.0.1:0).
  std::uint16_t admin_port() const;
  /// Where HttpProxy logs go when logs_yaml is set.
  std::filesystem::path log_dir() const { return dir_.path() / "logs"; }

 private:
  gateway_options opts_;
  temp_dir dir_;
  std::string config_file_;
  std::unique_ptr<proxy::server> server_;
};

}  // namespace testing_support
