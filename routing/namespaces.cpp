// Namespace selection by Host header or SNI.
#include "routing/namespaces.hpp"

#include "routing/text.hpp"

namespace routing {

std::string_view to_string(namespace_kind k) noexcept {
  return k == namespace_kind::internal ? "internal" : "external";
}

std::optional<std::string> normalize_host(std::string_view h) {
  if (h.empty() || h.size() > 255) return std::nullopt;
  std::string_view name = h;
  std::string_view port;
  if (h.front() == '[') {
    const auto close = h.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    name = h.substr(1, close - 1);
    const auto rest = h.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    const auto colon = h.find(':');
    if (colon != std::string_view::npos) {
      name = h.substr(0, colon);
      port = h.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (port.size() > 5) return std::nullopt;
  for (char c : port)
    if (!ascii_digit(c)) return std::nullopt;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return std::nullopt;
  std::string lower(name.size(), '\0');  // checked and lowered in one pass
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = ascii_alnum(c) || c == '-' || c == '.' || c == ':' || c == '_';
    if (!ok) return std::nullopt;  // no userinfo, spaces, slashes or percent escapes
    lower[i] = ascii_lower(c);
  }
  return lower;
}

namespace_map::namespace_map(const config::mapi_vdir& vdir)
    : internal_(vdir.internal_url),
      external_(vdir.external_url),
      internal_aliases_(vdir.internal_aliases),
      external_aliases_(vdir.external_aliases) {}

std::optional<namespace_kind> namespace_map::match(std::string_view host) const {
  if (internal_ && internal_->host == host) return namespace_kind::internal;
  if (external_ && external_->host == host) return namespace_kind::external;
  for (const auto& a : internal_aliases_)
    if (a == host) return namespace_kind::internal;
  for (const auto& a : external_aliases_)
    if (a == host) return namespace_kind::external;
  return std::nullopt;
}

const std::string& namespace_map::vdir_path(namespace_kind k) const {
  // match() only returns a kind whose URL is configured.
  return k == namespace_kind::internal ? internal_->path : external_->path;
}

}  // namespace routing
