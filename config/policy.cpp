// Policy sections of the config: per-mailbox MAPI/HTTP switches and the affinity token keys.
#include <algorithm>
#include <cerrno>
#include <map>
#include <system_error>
#include <vector>

#include "config/detail.hpp"

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

}  // namespace config::detail
