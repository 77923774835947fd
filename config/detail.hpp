// Internal to config/: typed, positioned reading of YAML nodes and the text rules of the schema.
//
// Contract: only config/*.cpp include this header (it pulls in yaml-cpp). Every read_* helper
// reports problems into a reader and returns nullopt/false instead of throwing; YAML is only
// read through const nodes (never operator[], which inserts keys).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"
#include "config/units.hpp"

namespace config::detail {

/// Collects the diagnostics of one load; knows the file name and the directory that relative
/// paths resolve against.
class reader {
 public:
  reader(std::string file, std::filesystem::path base_dir);

  /// Adds "<path>: <message>" (just `message` when path is empty) at `at` (0-based yaml-cpp
  /// mark; a negative line means "no position").
  void error(const YAML::Mark& at, const std::string& path, const std::string& message);

  bool failed() const noexcept { return !diagnostics_.empty(); }
  const std::filesystem::path& base_dir() const noexcept { return base_dir_; }

  /// All diagnostics, stably sorted by position (position-less ones first).
  std::vector<diagnostic> take();

 private:
  std::string file_;
  std::filesystem::path base_dir_;
  std::vector<diagnostic> diagnostics_;
};

/// One value in the document: the node, where to point at it, and its schema path
/// ("listeners[0].tls.min_version"; empty for the document root).
struct value_ref {
  YAML::Node node;
  YAML::Mark at;
  std::string path;
};

std::string child_path(const std::string& parent, std::string_view key);
std::string index_path(const std::string& parent, std::size_t index);

/// The elements of a sequence value as value_refs (path "parent[i]", position of the element).
std::vector<value_ref> elements(const value_ref& seq);

/// The keys of one YAML map checked against the schema. Construction reports a non-map value,
/// non-string keys, unknown keys (suggesting a known key within edit distance 2) and repeated
/// keys; lookups see only known keys, first occurrence.
class fields {
 public:
  fields(reader& r, const value_ref& map, std::initializer_list<std::string_view> known);

  bool valid() const noexcept { return valid_; }
  const value_ref& self() const noexcept { return self_; }

  /// The value under `key`. A null value (`key:` with nothing after it) points at its key,
  /// because yaml-cpp marks an empty value at the next token.
  std::optional<value_ref> find(std::string_view key) const;

  /// Like find, but reports `missing required key "<key>"` at the map when absent.
  std::optional<value_ref> require(std::string_view key) const;

  /// Which of `keys` are present, in file order, with the position of each key.
  std::vector<std::pair<std::string_view, YAML::Mark>> present(
      std::initializer_list<std::string_view> keys) const;

 private:
  struct entry {
    std::string key;
    YAML::Mark key_at;
    YAML::Node value;
  };

  reader& r_;
  value_ref self_;
  bool valid_ = false;
  std::vector<entry> entries_;
};

// Typed readers. Each reports "<path>: ..." at the value and returns nullopt on error.
std::optional<std::string> read_string(reader& r, const value_ref& v, bool non_empty);
std::optional<std::uint64_t> read_uint(reader& r, const value_ref& v, std::uint64_t min,
                                       std::uint64_t max);
std::optional<bool> read_bool(reader& r, const value_ref& v);
/// A duration with unit, > 0 (or >= 0 when `zero_allowed`), at most `max`.
std::optional<duration> read_duration(reader& r, const value_ref& v, duration max = day,
                                      bool zero_allowed = false);
std::optional<std::size_t> read_size(reader& r, const value_ref& v, std::size_t min,
                                     std::size_t max);
/// A file path, resolved against reader::base_dir() unless absolute, that must name a readable
/// regular file. An empty value is returned as "" when allow_empty, an error otherwise.
std::optional<std::string> read_file_path(reader& r, const value_ref& v, bool allow_empty);
/// host:port with port in min_port..65535.
std::optional<endpoint> read_endpoint(reader& r, const value_ref& v, std::uint16_t min_port);
/// True when `v` is a sequence (non-empty if required); reports otherwise.
bool read_sequence(reader& r, const value_ref& v, bool non_empty);
/// A mailbox key (parse_mailbox), lower-cased.
std::optional<std::string> read_mailbox(reader& r, const value_ref& v);

/// Name → index of the entries of one section, for resolving references by name.
/// `usable` is false when the section itself was unreadable: references are then not checked,
/// so one broken section does not cascade into "unknown ..." errors everywhere.
struct name_table {
  std::map<std::string, std::size_t, std::less<>> index;
  bool usable = true;
};

// Sections of the document (upstreams.cpp), called in this order by the loader.
void load_backends(reader& r, const fields& root, snapshot& s, name_table& backends);
void load_pools(reader& r, const fields& root, snapshot& s, const name_table& backends,
                name_table& pools);
void load_routes(reader& r, const fields& root, snapshot& s, const name_table& backends,
                 const name_table& pools);

/// A health check path is origin-form and plain: '/' then visible ASCII, no fragment.
bool valid_check_path(std::string_view p);

// Virtual directories (vdirs.cpp).
/// IISAuthenticationMethods: a non-empty list of unique scheme names, any case; `forms` only
/// where `forms_allowed`. nullopt after reporting.
std::optional<std::vector<auth_scheme>> read_auth_schemes(reader& r, const value_ref& v,
                                                          bool forms_allowed);
/// `vdirs:`, after `mapi:` and `limits:` (the /mapi entry mirrors them).
void load_vdirs(reader& r, const fields& root, snapshot& s);
/// `namespaces:`, after `mapi:`.
void load_namespaces(reader& r, const fields& root, snapshot& s);

// Policy sections (policy.cpp): per-mailbox MAPI/HTTP switches and signed affinity tokens.
/// Reads the file at `path` into `out`, stopping once `out` holds more than `limit` bytes (a
/// caller that needs the whole file passes SIZE_MAX). Returns 0, or the errno that stopped it.
int read_file_bytes(const std::string& path, std::size_t limit, std::string& out);

void load_mailboxes(reader& r, const fields& root, snapshot& s);
/// `auth_protection:`: the smart lockout's thresholds, windows, table size, exemptions.
void load_auth_protection(reader& r, const fields& root, snapshot& s);
void load_affinity(reader& r, const fields& root, snapshot& s);

// TLS policy strings (tls_policy.cpp), checked in memory with libssl. Each reason is a message
// for the value's diagnostic; none means accepted.
/// An OpenSSL TLS 1.2 cipher list: every entry that adds ciphers selects some, and the whole
/// list selects at least one.
std::vector<std::string> check_cipher_list(std::string_view list);
/// ':'-separated TLS 1.3 suite names, each known to OpenSSL, no duplicates or empty entries.
std::vector<std::string> check_ciphersuites(std::string_view list);
/// One key-exchange group name OpenSSL knows ("" when it does).
std::string check_group(std::string_view name);
/// The whole group list, each name already accepted by check_group ("" when OpenSSL takes it).
std::string check_groups(const std::vector<std::string>& names);

// Text rules (syntax.cpp). The parse_* functions return "" on success, else the reason.

/// `"text"` with '"', '\\' and control characters escaped, cut after 80 characters.
std::string quote(std::string_view text);
std::size_t edit_distance(std::string_view a, std::string_view b);
/// A DNS name or an IPv4 literal (not IPv6).
bool valid_host_name(std::string_view host);
bool valid_ipv6(std::string_view host);
/// [A-Za-z0-9._-]{1,64}: backend and pool names.
bool valid_name(std::string_view name);
std::string parse_endpoint(std::string_view text, std::uint16_t min_port, endpoint& out);
std::string parse_url(std::string_view text, vdir_url& out);
/// "<local>@<domain>", both non-empty, no whitespace; out is lower-cased.
bool parse_mailbox(std::string_view text, std::string& out);
/// Non-empty, no '@', no whitespace; out is lower-cased.
bool parse_domain(std::string_view text, std::string& out);
/// An RFC 6265 cookie-name (an RFC 2616 token) of 1..64 characters.
bool valid_cookie_name(std::string_view name);

}  // namespace config::detail
