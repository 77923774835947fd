// Policy sections of the config: per-mailbox MAPI/HTTP switches and the affinity token keys.
#include <algorithm>
#include <cerrno>
#include <map>
#include <system_error>
#include <vector>

#include "config/detail.hpp"
#include "routing/cidr.hpp"
#include "routing/text.hpp"

namespace config::detail {

namespace {

constexpr std::size_t min_key_bytes = 32;
constexpr std::size_t max_key_bytes = 4096;

// The bytes of the key file at `path` (already checked to be a readable regular file) with
// trailing ASCII whitespace removed, or nullopt after reporting at `v`.
std::optional<std::string> read_key(reader& r, const value_ref& v, const std::string& path) {
  std::string key;
  const int error = read_file_bytes(path, max_key_bytes, key);
  if (error != 0) {
    r.error(v.at, v.path,
            "cannot read " + quote(path) + ": " + std::generic_category().message(error));
    return std::nullopt;
  }
  if (key.size() > max_key_bytes) {
    r.error(
        v.at, v.path,
        "key in " + quote(path) + " is larger than " + std::to_string(max_key_bytes) + " bytes");
    return std::nullopt;
  }
  while (!key.empty() && (key.back() == ' ' || (key.back() >= '\t' && key.back() <= '\r'))) {
    key.pop_back();
  }
  if (key.size() < min_key_bytes) {
    r.error(v.at, v.path,
            "key in " + quote(path) + " is " + std::to_string(key.size()) + " bytes; at least " +
                std::to_string(min_key_bytes) + " are needed");
    return std::nullopt;
  }
  return key;
}

}  // namespace

void load_mailboxes(reader& r, const fields& root, snapshot& s) {
  const auto list = root.find("mailboxes");
  if (!list || !read_sequence(r, *list, false)) return;
  std::map<std::string, std::string, std::less<>> seen;  // mailbox → first entry path
  for (const auto& item : elements(*list)) {
    fields f(r, item, {"mailbox", "mapi_http_enabled"});
    if (!f.valid()) continue;
    // One anchor, or several of one mailbox (its SMTP address and its MailboxId GUID, as a
    // route may list them): Set-CasMailbox applies to the mailbox, whatever names it.
    std::vector<std::string> keys;
    if (auto v = f.require("mailbox")) {
      std::vector<value_ref> items;
      if (v->node.IsSequence()) {
        if (read_sequence(r, *v, true)) items = elements(*v);
      } else {
        items.push_back(*v);
      }
      for (const auto& one : items) {
        auto key = read_mailbox(r, one);
        if (!key) continue;
        if (auto [it, fresh] = seen.emplace(*key, item.path); !fresh)
          r.error(one.at, one.path,
                  "duplicate mailbox " + quote(*key) + " (first in " + it->second + ")");
        keys.push_back(std::move(*key));
      }
    }
    std::optional<bool> enabled;
    if (auto v = f.require("mapi_http_enabled")) enabled = read_bool(r, *v);
    if (enabled)
      for (auto& key : keys)
        s.mailboxes.push_back(mailbox_policy{std::move(key), *enabled});
  }
}

void load_affinity(reader& r, const fields& root, snapshot& s) {
  const auto v = root.find("affinity");
  if (!v) return;
  fields f(r, *v, {"cookie_name", "key_files", "max_age"});
  if (!f.valid()) return;
  affinity a;
  if (auto x = f.find("cookie_name")) {
    if (auto name = read_string(r, *x, true)) {
      if (valid_cookie_name(*name)) {
        a.cookie_name = std::move(*name);
      } else {
        r.error(x->at, x->path,
                "invalid cookie name " + quote(*name) +
                    " (use letters, digits and !#$%&'*+-.^_`|~, at most 64 characters)");
      }
    }
  }
  std::vector<std::string> key_paths;  // "affinity.key_files[i]" of each entry of a.keys
  if (auto files = f.require("key_files"); files && read_sequence(r, *files, true)) {
    for (const auto& item : elements(*files)) {
      const auto path = read_file_path(r, item, false);
      if (!path) continue;
      auto key = read_key(r, item, *path);
      if (!key) continue;
      const auto same = std::find(a.keys.begin(), a.keys.end(), *key);
      if (same != a.keys.end()) {
        r.error(item.at, item.path,
                "key in " + quote(*path) + " is the same as in " +
                    key_paths[std::size_t(same - a.keys.begin())] + " (every key must differ)");
        continue;
      }
      a.keys.push_back(std::move(*key));
      a.key_files.push_back(*path);
      key_paths.push_back(item.path);
    }
  }
  if (auto x = f.find("max_age")) {
    if (auto d = read_duration(r, *x)) a.max_age = *d;
  }
  s.affinity = std::move(a);
}

void load_auth_protection(reader& r, const fields& root, snapshot& s) {
  const auto v = root.find("auth_protection");
  if (!v) return;
  fields f(r, *v,
           {"user_threshold", "address_threshold", "window", "familiar_for", "table_size", "exempt",
            "domains"});
  if (!f.valid()) return;
  auth_protection p;
  if (auto x = f.find("user_threshold"))
    p.user_threshold = unsigned(read_uint(r, *x, 1, 1000).value_or(p.user_threshold));
  if (auto x = f.find("address_threshold"))
    p.address_threshold = unsigned(read_uint(r, *x, 0, 100000).value_or(p.address_threshold));
  if (auto x = f.find("window")) p.window = read_duration(r, *x).value_or(p.window);
  if (auto x = f.find("familiar_for"))
    p.familiar_for =
        read_duration(r, *x, duration{3650ll * 24 * 3600 * 1000}).value_or(p.familiar_for);
  if (auto x = f.find("table_size"))
    p.table_size = read_uint(r, *x, 1024, 10'000'000).value_or(p.table_size);
  if (auto x = f.find("exempt"); x && read_sequence(r, *x, false)) {
    for (const auto& item : elements(*x)) {
      const auto text = read_string(r, item, true);
      if (!text) continue;
      if (!routing::parse_cidr(*text))
        r.error(
            item.at, item.path,
            "invalid network " + quote(*text) + " (an address or CIDR: 10.0.0.0/8, 2001:db8::/32)");
      else
        p.exempt.push_back(*text);
    }
  }
  if (auto x = f.find("domains")) {
    if (!x->node.IsMap()) {
      r.error(x->at, x->path, "expected a map of NetBIOS domain: UPN suffix (CORP: corp.test)");
    } else {
      for (const auto& entry : x->node) {
        const auto netbios = routing::to_lower(entry.first.as<std::string>(""));
        const auto suffix = routing::to_lower(entry.second.as<std::string>(""));
        if (netbios.empty() || suffix.empty() || suffix.find('@') != std::string::npos ||
            netbios.find('\\') != std::string::npos)
          r.error(entry.first.Mark(), child_path(x->path, netbios),
                  "expected NETBIOS: upn.suffix (CORP: corp.test)");
        else
          p.domains.emplace_back(netbios, suffix);
      }
    }
  }
  if (p.address_threshold != 0 && p.address_threshold < p.user_threshold)
    r.error(v->at, v->path,
            "address_threshold below user_threshold: one user's mistakes would hold a shared "
            "address first");
  s.auth_protection = std::move(p);
}

}  // namespace config::detail
