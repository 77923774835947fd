// Which namespace (the /mapi vdir's InternalUrl or ExternalUrl) a request is addressed to.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace routing {

enum class namespace_kind { internal, external };

std::string_view to_string(namespace_kind k) noexcept;

/// Lower-cases a Host header or SNI value and strips the port, IPv6 brackets and one trailing
/// dot. Returns nullopt for a value no client would legitimately send (empty, spaces, userinfo,
/// a non-numeric port).
std::optional<std::string> normalize_host(std::string_view host_header);

/// The two namespaces of the /mapi virtual directory, compiled from the config.
class namespace_map {
 public:
  explicit namespace_map(const config::mapi_vdir& vdir);

  /// The namespace whose URL host, or one of its `namespaces:` aliases, equals `host`
  /// (normalised, port ignored: the listener decides the port). When internal and external
  /// share a host name, internal wins.
  std::optional<namespace_kind> match(std::string_view host) const;

  /// The vdir path of a namespace, e.g. "/mapi".
  const std::string& vdir_path(namespace_kind k) const;

 private:
  std::optional<config::vdir_url> internal_;
  std::optional<config::vdir_url> external_;
  std::vector<std::string> internal_aliases_, external_aliases_;
};

}  // namespace routing
