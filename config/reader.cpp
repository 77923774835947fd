// Typed reading of YAML nodes: map key checking, scalars, durations, sizes, paths, addresses,
// mailboxes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <system_error>

#include "config/detail.hpp"
#include "config/units.hpp"

namespace config::detail {

namespace {

// What a node is, for "got ..." in messages.
std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return quote(n.Scalar());
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "null";
  }
}

std::string range_text(std::uint64_t min, std::uint64_t max) {
  if (max == std::numeric_limits<std::uint64_t>::max()) return ">= " + std::to_string(min);
  return "in " + std::to_string(min) + ".." + std::to_string(max);
}

// "1KiB", "4MiB", "1GiB" when exact, else the byte count.
std::string size_text(std::size_t bytes) {
  constexpr std::size_t kib = 1024;
  if (bytes != 0 && bytes % (kib * kib * kib) == 0) {
    return std::to_string(bytes / (kib * kib * kib)) + "GiB";
  }
  if (bytes != 0 && bytes % (kib * kib) == 0) return std::to_string(bytes / (kib * kib)) + "MiB";
  if (bytes != 0 && bytes % kib == 0) return std::to_string(bytes / kib) + "KiB";
  return std::to_string(bytes);
}

// Digits followed by one of `units` (or nothing when allow_bare): a well-formed value whose
// parse can only have failed by being too large.
bool well_formed(std::string_view text, std::initializer_list<std::string_view> units,
                 bool allow_bare) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0) return false;
  const auto unit = text.substr(digits);
  if (unit.empty()) return allow_bare;
  for (const auto u : units) {
    if (unit == u) return true;
  }
  return false;
}

// The scalar text of `v`, or nullopt after reporting "expected <what>, got ...".
std::optional<std::string> scalar(reader& r, const value_ref& v, const std::string& what) {
  if (v.node.IsScalar()) return v.node.Scalar();
  r.error(v.at, v.path, "expected " + what + ", got " + describe(v.node));
  return std::nullopt;
}

}  // namespace

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::vector<value_ref> elements(const value_ref& seq) {
  std::vector<value_ref> out;
  std::size_t i = 0;
  for (const YAML::Node& element : seq.node) {
    out.push_back(value_ref{element, element.Mark(), index_path(seq.path, i++)});
  }
  return out;
}

fields::fields(reader& r, const value_ref& map, std::initializer_list<std::string_view> known)
    : r_(r), self_(map) {
  if (!map.node.IsMap()) {
    r.error(map.at, map.path, "expected a map, got " + describe(map.node));
    return;
  }
  valid_ = true;
  const std::string where = map.path.empty() ? "at the top level" : "in " + map.path;
  for (const auto& kv : map.node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) {
      r.error(key.Mark(), "", "keys must be plain strings, got " + describe(key) + " " + where);
      continue;
    }
    const std::string& name = key.Scalar();
    bool is_known = false;
    std::string_view suggestion;
    std::size_t best = 3;
    for (const auto k : known) {
      if (k == name) is_known = true;
      const auto d = edit_distance(name, k);
      if (d < best && d < k.size()) {
        best = d;
        suggestion = k;
      }
    }
    if (!is_known) {
      std::string message = "unknown key " + quote(name) + " " + where;
      if (!suggestion.empty()) message += " (did you mean " + quote(suggestion) + "?)";
      r.error(key.Mark(), "", message);
      continue;
    }
    bool repeated = false;
    for (const auto& e : entries_)
      repeated = repeated || e.key == name;
    if (repeated) {
      r.error(key.Mark(), "", "duplicate key " + quote(name) + " " + where);
      continue;
    }
    entries_.push_back(entry{name, key.Mark(), kv.second});
  }
}

std::optional<value_ref> fields::find(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key != key) continue;
    const YAML::Mark at = e.value.IsNull() ? e.key_at : e.value.Mark();
    return value_ref{e.value, at, child_path(self_.path, key)};
  }
  return std::nullopt;
}

std::optional<value_ref> fields::require(std::string_view key) const {
  auto v = find(key);
  if (!v && valid_) r_.error(self_.at, self_.path, "missing required key " + quote(key));
  return v;
}

std::vector<std::pair<std::string_view, YAML::Mark>> fields::present(
    std::initializer_list<std::string_view> keys) const {
  std::vector<std::pair<std::string_view, YAML::Mark>> out;
  for (const auto& e : entries_) {
    for (const auto k : keys) {
      if (e.key == k) out.emplace_back(k, e.key_at);
    }
  }
  return out;
}

std::optional<std::string> read_string(reader& r, const value_ref& v, bool non_empty) {
  auto text = scalar(r, v, "a string");
  if (text && non_empty && text->empty()) {
    r.error(v.at, v.path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::uint64_t> read_uint(reader& r, const value_ref& v, std::uint64_t min,
                                       std::uint64_t max) {
  const std::string what = "an integer " + range_text(min, max);
  const auto text = scalar(r, v, what);
  if (!text) return std::nullopt;
  std::uint64_t value = 0;
  bool ok = !text->empty();
  for (const char c : *text) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (c < '0' || c > '9' || digit > max || value > (max - digit) / 10) {
      ok = false;
      break;
    }
    value = value * 10 + digit;
  }
  if (!ok || value < min) {
    r.error(v.at, v.path, "expected " + what + ", got " + quote(*text));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> read_bool(reader& r, const value_ref& v) {
  const auto text = scalar(r, v, "true or false");
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "True" || *text == "TRUE") return true;
  if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  r.error(v.at, v.path, "expected true or false, got " + quote(*text));
  return std::nullopt;
}

std::optional<duration> read_duration(reader& r, const value_ref& v, duration max,
                                      bool zero_allowed) {
  const auto text = scalar(r, v, "a duration");
  if (!text) return std::nullopt;
  const auto d = parse_duration(*text, max);
  if (!d) {
    if (well_formed(*text, {"ms", "s", "m", "h", "d"}, false)) {
      const auto hours = std::chrono::duration_cast<std::chrono::hours>(max).count();
      r.error(v.at, v.path,
              "duration " + quote(*text) + " is longer than " +
                  (hours % 24 == 0 && hours > 24 ? std::to_string(hours / 24) + "d"
                                                 : std::to_string(hours) + "h"));
    } else {
      r.error(
          v.at, v.path,
          "invalid duration " + quote(*text) + " (expected a number with unit ms, s, m, h or d)");
    }
    return std::nullopt;
  }
  if (d->count() == 0 && !zero_allowed) {
    r.error(v.at, v.path, "duration must be greater than 0, got " + quote(*text));
    return std::nullopt;
  }
  return d;
}

std::optional<std::size_t> read_size(reader& r, const value_ref& v, std::size_t min,
                                     std::size_t max) {
  const auto text = scalar(r, v, "a size");
  if (!text) return std::nullopt;
  const auto size = parse_size(*text);
  const bool formed = size || well_formed(*text, {"B", "KiB", "MiB", "GiB"}, true);
  if (!formed) {
    r.error(v.at, v.path,
            "invalid size " + quote(*text) +
                " (expected a byte count or a number with unit B, KiB, MiB or GiB)");
    return std::nullopt;
  }
  if (!size || *size < min || *size > max) {
    r.error(v.at, v.path,
            "size " + quote(*text) + " out of range " + size_text(min) + ".." + size_text(max));
    return std::nullopt;
  }
  return size;
}

std::optional<std::string> read_file_path(reader& r, const value_ref& v, bool allow_empty) {
  auto text = read_string(r, v, !allow_empty);
  if (!text || text->empty()) return text;
  std::filesystem::path p(*text);
  if (p.is_relative()) p = r.base_dir() / p;
  const std::string resolved = p.lexically_normal().string();
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const std::string why = std::generic_category().message(errno);
    r.error(v.at, v.path, "cannot read " + quote(resolved) + ": " + why);
    return std::nullopt;
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) {
    r.error(v.at, v.path, quote(resolved) + " is not a regular file");
    return std::nullopt;
  }
  return resolved;
}

std::optional<endpoint> read_endpoint(reader& r, const value_ref& v, std::uint16_t min_port) {
  const auto text = read_string(r, v, true);
  if (!text) return std::nullopt;
  endpoint out;
  if (auto why = parse_endpoint(*text, min_port, out); !why.empty()) {
    r.error(v.at, v.path, "invalid address " + quote(*text) + ": " + why);
    return std::nullopt;
  }
  return out;
}

bool read_sequence(reader& r, const value_ref& v, bool non_empty) {
  if (!v.node.IsSequence()) {
    r.error(v.at, v.path, "expected a sequence, got " + describe(v.node));
    return false;
  }
  if (non_empty && v.node.size() == 0) {
    r.error(v.at, v.path, "must not be empty");
    return false;
  }
  return true;
}

std::optional<std::string> read_mailbox(reader& r, const value_ref& v) {
  const auto text = read_string(r, v, true);
  if (!text) return std::nullopt;
  std::string key;
  if (!parse_mailbox(*text, key)) {
    r.error(v.at, v.path,
            "invalid mailbox " + quote(*text) +
                " (expected <local>@<domain>: a MailboxId GUID@domain or an SMTP address)");
    return std::nullopt;
  }
  return key;
}

}  // namespace config::detail
