// Test PKI: a CA and leaf certificates generated at test time with the openssl CLI.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace testing_support {

struct leaf {
  std::string cert;  ///< PEM path
  std::string key;   ///< PEM path
};

/// One CA per test process (generation costs ~100 ms); leaves are issued on demand.
class test_pki {
 public:
  static test_pki& instance();
  const std::string& ca_file() const noexcept { return ca_cert_; }
  enum class key_type { ec_p256, rsa_2048 };
  /// Issues (once per `name`) a leaf for DNS names `dns` and IP addresses `ips`, valid for
  /// `days` days (the CA: 400), with a `key` key pair.
  /// Explicit dates, "YYYYMMDDHHMMSSZ" (both set, or both empty for `days` from now).
  struct validity {
    std::string not_before, not_after;
  };
  leaf issue(const std::string& name, const std::vector<std::string>& dns,
             const std::vector<std::string>& ips = {}, int days = 90,
             key_type key = key_type::ec_p256, const validity& dates = {});
  /// A leaf valid only between `dates` (an expired one, or one not valid yet).
  leaf issue_dated(const std::string& name, const std::vector<std::string>& dns,
                   const validity& dates);

 private:
  test_pki();
  temp_dir dir_;
  std::string ca_cert_, ca_key_;
};

/// Runs a shell command; throws std::runtime_error with its output when it fails.
std::string run_command(const std::string& cmd);

/// Writes `text` to `path` (throws on failure).
void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

}  // namespace testing_support
