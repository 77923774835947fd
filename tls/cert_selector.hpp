// Pure SNI → certificate selection: exact names first, then one-label wildcards, else default.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tls {

class cert_selector {
 public:
  /// `names[i]` are the DNS names certificate i covers ("mail.corp.test", "*.corp.test"),
  /// compared case-insensitively. Certificate 0 is the default.
  explicit cert_selector(const std::vector<std::vector<std::string>>& names);

  /// Index of the certificate to present for `sni` (0 when none names it). An earlier
  /// certificate wins when two name the same host. No allocation for lower-case input.
  std::size_t select(std::string_view sni) const;

  /// Whether any certificate covers `host` (used to check namespace coverage).
  bool covers(std::string_view host) const;

 private:
  std::size_t find(std::string_view host, bool& found) const;

  std::unordered_map<std::string, std::size_t> exact_;
  std::unordered_map<std::string, std::size_t> wildcard_;  ///< key: the part after "*."
};

/// RFC 6125 §6.4.3 matching of one presented name against a host (both lower-case):
/// "*.corp.test" matches "mail.corp.test", not "corp.test" nor "a.b.corp.test".
bool name_matches(std::string_view pattern, std::string_view host);

}  // namespace tls
