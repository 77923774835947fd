// Pure SNI → certificate selection.
#include "tls/cert_selector.hpp"

#include <string>

#include "routing/text.hpp"

namespace tls {

cert_selector::cert_selector(const std::vector<std::vector<std::string>>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (const auto& n : names[i]) {
      const auto name = routing::to_lower(n);
      if (name.size() > 2 && name.starts_with("*."))
        wildcard_.emplace(name.substr(2), i);  // emplace keeps the earlier certificate
      else
        exact_.emplace(name, i);
    }
  }
}

std::size_t cert_selector::find(std::string_view host, bool& found) const {
  found = false;
  std::string key = routing::to_lower(host);
  if (!key.empty() && key.back() == '.') key.pop_back();
  if (auto it = exact_.find(key); it != exact_.end()) {
    found = true;
    return it->second;
  }
  const auto dot = key.find('.');
  if (dot != std::string::npos && dot > 0) {
    if (auto it = wildcard_.find(key.substr(dot + 1)); it != wildcard_.end()) {
      found = true;
      return it->second;
    }
  }
  return 0;
}

std::size_t cert_selector::select(std::string_view sni) const {
  bool found = false;
  return find(sni, found);
}

bool cert_selector::covers(std::string_view host) const {
  bool found = false;
  find(host, found);
  return found;
}

bool name_matches(std::string_view pattern, std::string_view host) {
  if (pattern == host) return true;
  if (pattern.size() < 3 || !pattern.starts_with("*.")) return false;
  const auto dot = host.find('.');
  return dot != std::string_view::npos && dot > 0 && host.substr(dot + 1) == pattern.substr(2);
}

}  // namespace tls
