// `vdirs:` (Exchange's virtual directories besides /mapi) and `namespaces:` (more host names of
// the two namespaces), with each vdir's defaults as Exchange 2016/2019 ships it.
#include <algorithm>

#include "config/detail.hpp"
#include "routing/text.hpp"

namespace config::detail {
namespace {

constexpr std::uint64_t kib = 1024, mib = kib * kib, gib = mib * kib;

/// Exchange's defaults for vdir `v` (not yet enabled: `vdirs:` lists what is published).
vdir_settings defaults_for(vdir_id v) {
  using a = auth_scheme;
  vdir_settings s;
  const auto name = vdir_names[std::size_t(v)];
  s.health_path = std::string(name.path) + "/healthcheck.htm";
  switch (v) {
    case vdir_id::mapi:
      break;  // `mapi:`, `limits:` and backends[].health_check
    case vdir_id::autodiscover:
      s.authentication = {a::basic, a::ntlm, a::negotiate, a::oauth};
      s.body_limit = 64 * kib;
      break;
    case vdir_id::ews:
      s.authentication = {a::ntlm, a::negotiate, a::oauth};
      s.body_limit = 32 * mib;
      break;
    case vdir_id::oab:
      s.authentication = {a::ntlm, a::negotiate, a::oauth};
      s.body_limit = 64 * kib;
      break;
    case vdir_id::rpc:
      // RPC_IN_DATA declares the channel's whole life (up to 1 GiB) as its Content-Length and
      // streams it for hours; the legs are quiet between RPC pings.
      s.authentication = {a::basic, a::ntlm, a::negotiate};
      s.body_limit = gib;
      s.idle_timeout = duration{15 * 60 * 1000};
      break;
    case vdir_id::activesync:
      // A Ping waits up to the device's heartbeat, at most 59 minutes.
      s.authentication = {a::basic, a::oauth};
      s.body_limit = 32 * mib;
      s.idle_timeout = duration{60 * 60 * 1000};
      break;
    case vdir_id::owa:
      s.authentication = {a::forms};
      s.body_limit = 32 * mib;
      break;
    case vdir_id::ecp:
      s.authentication = {a::forms};
      s.body_limit = 32 * mib;
      s.publish = publish_scope::internal;
      break;
    case vdir_id::powershell:
      s.authentication = {a::negotiate, a::oauth};
      s.body_limit = 32 * mib;
      s.publish = publish_scope::internal;
      s.health_path.clear();  // Exchange publishes no healthcheck.htm there
      break;
  }
  return s;
}

std::optional<vdir_id> vdir_by_key(std::string_view key) {
  for (std::size_t i = 1; i < vdir_count; ++i)
    if (vdir_names[i].key == key) return vdir_id(i);
  return std::nullopt;
}

void load_vdir(reader& r, const value_ref& v, vdir_settings& s) {
  if (v.node.IsNull()) return;  // `ews:` alone: published with the defaults
  fields f(r, v,
           {"enabled", "publish", "authentication", "body_limit", "idle_timeout", "health_check"});
  if (!f.valid()) return;
  if (auto x = f.find("enabled")) s.enabled = read_bool(r, *x).value_or(true);
  if (auto x = f.find("publish")) {
    if (const auto text = read_string(r, *x, true)) {
      const auto t = routing::to_lower(*text);
      if (t == "both")
        s.publish = publish_scope::both;
      else if (t == "internal")
        s.publish = publish_scope::internal;
      else if (t == "external")
        s.publish = publish_scope::external;
      else
        r.error(x->at, x->path, "expected internal, external or both, not " + quote(*text));
    }
  }
  if (auto x = f.find("authentication")) {
    if (auto schemes = read_auth_schemes(r, *x, true)) s.authentication = std::move(*schemes);
  }
  if (auto x = f.find("body_limit")) {
    if (auto n = read_size(r, *x, 0, 4 * gib)) s.body_limit = *n;
  }
  if (auto x = f.find("idle_timeout")) {
    if (auto d = read_duration(r, *x)) s.idle_timeout = *d;
  }
  if (auto x = f.find("health_check")) {
    if (x->node.IsScalar() && (x->node.Scalar() == "false" || x->node.Scalar() == "off")) {
      s.health_path.clear();
    } else if (const auto path = read_string(r, *x, true)) {
      if (!valid_check_path(*path))
        r.error(x->at, x->path,
                "expected false or an origin-form path such as \"/EWS/healthcheck.htm\"");
      else
        s.health_path = *path;
    }
  }
}

void read_hosts(reader& r, const value_ref& v, std::vector<std::string>& out) {
  if (!read_sequence(r, v, false)) return;
  for (const auto& item : elements(v)) {
    const auto text = read_string(r, item, true);
    if (!text) continue;
    const auto host = routing::to_lower(*text);
    if (!valid_host_name(host))
      r.error(item.at, item.path, "invalid host name " + quote(*text) + " (no port, no scheme)");
    else
      out.push_back(host);
  }
}

}  // namespace

std::optional<std::vector<auth_scheme>> read_auth_schemes(reader& r, const value_ref& v,
                                                          bool forms_allowed) {
  if (!read_sequence(r, v, true)) return std::nullopt;
  static constexpr std::pair<std::string_view, auth_scheme> names[] = {
      {"ntlm", auth_scheme::ntlm},   {"negotiate", auth_scheme::negotiate},
      {"basic", auth_scheme::basic}, {"oauth", auth_scheme::oauth},
      {"forms", auth_scheme::forms},
  };
  std::vector<auth_scheme> schemes;
  bool ok = true;
  for (const auto& item : elements(v)) {
    const auto text = read_string(r, item, true);
    if (!text) {
      ok = false;
      continue;
    }
    const std::string name = routing::to_lower(*text);
    const auto it = std::find_if(std::begin(names), std::end(names),
                                 [&](const auto& n) { return n.first == name; });
    if (it == std::end(names) || (it->second == auth_scheme::forms && !forms_allowed)) {
      r.error(item.at, item.path,
              "unknown authentication method " + quote(*text) + " (expected ntlm, negotiate, " +
                  (forms_allowed ? "basic, oauth or forms)" : "basic or oauth)"));
      ok = false;
    } else if (std::find(schemes.begin(), schemes.end(), it->second) != schemes.end()) {
      r.error(item.at, item.path, "duplicate authentication method " + quote(name));
      ok = false;
    } else {
      schemes.push_back(it->second);
    }
  }
  if (!ok) return std::nullopt;
  return schemes;
}

void load_vdirs(reader& r, const fields& root, snapshot& s) {
  for (std::size_t i = 0; i < vdir_count; ++i)
    s.vdirs[i] = defaults_for(vdir_id(i));
  auto& mapi = s.vdirs[std::size_t(vdir_id::mapi)];
  mapi.enabled = true;
  mapi.health_path.clear();  // /mapi's check is each backend's own (backends[].health_check)
  const auto v = root.find("vdirs");
  if (!v) return;
  if (!v->node.IsMap()) {
    r.error(v->at, v->path, "expected a map of virtual directories (autodiscover: ..., ews: ...)");
    return;
  }
  for (const auto& entry : v->node) {
    const auto key = entry.first.as<std::string>("");
    value_ref item{entry.second, entry.second.IsNull() ? entry.first.Mark() : entry.second.Mark(),
                   child_path(v->path, key)};
    const auto id = vdir_by_key(key);
    if (!id) {
      std::string known;
      for (std::size_t i = 1; i < vdir_count; ++i)
        known += std::string(i > 1 ? ", " : "") + std::string(vdir_names[i].key);
      r.error(entry.first.Mark(), item.path,
              "unknown virtual directory " + quote(key) + " (known: " + known +
                  "; /mapi is configured under mapi:)");
      continue;
    }
    auto& settings = s.vdirs[std::size_t(*id)];
    settings.enabled = true;
    load_vdir(r, item, settings);
  }
}

void load_namespaces(reader& r, const fields& root, snapshot& s) {
  const auto v = root.find("namespaces");
  if (!v) return;
  fields f(r, *v, {"internal", "external"});
  if (!f.valid()) return;
  if (auto x = f.find("internal")) read_hosts(r, *x, s.mapi.internal_aliases);
  if (auto x = f.find("external")) read_hosts(r, *x, s.mapi.external_aliases);
  if (!s.mapi.internal_url && !s.mapi.internal_aliases.empty())
    r.error(v->at, v->path, "internal host names without mapi.internal_url");
  if (!s.mapi.external_url && !s.mapi.external_aliases.empty())
    r.error(v->at, v->path, "external host names without mapi.external_url");
}

}  // namespace config::detail
