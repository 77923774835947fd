// MailboxId parsing: GUID@domain or an SMTP address, from a query string.
#include "routing/mailbox_id.hpp"

#include "routing/text.hpp"

namespace routing {
namespace {

/// 8-4-4-4-12 hex digits, optionally in braces.
bool is_guid(std::string_view s) noexcept {
  if (s.size() == 38 && s.front() == '{' && s.back() == '}') s = s.substr(1, 36);
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
    if (dash ? s[i] != '-' : hex_value(s[i]) < 0) return false;
  }
  return true;
}

/// RFC 5321 dot-atom local part, conservatively: atext characters and single dots.
bool is_smtp_local(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64 || s.front() == '.' || s.back() == '.') return false;
  constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  char prev = 0;
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!ascii_alnum(c) && specials.find(c) == std::string_view::npos) {
      return false;
    }
    prev = c;
  }
  return true;
}

/// LDH labels separated by dots; no IP literals, no empty labels.
bool is_domain(std::string_view s) noexcept {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      if (!ascii_alnum(c) && c != '-') return false;
      if (c == '-' && label == 0) return false;
      if (++label > 63) return false;
    }
    prev = c;
  }
  return label != 0 && prev != '-';
}

}  // namespace

std::optional<mailbox_id> parse_mailbox_id(std::string_view text) {
  const auto at = text.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == text.size()) return std::nullopt;
  const auto local = text.substr(0, at);
  const auto domain = text.substr(at + 1);
  if (!is_domain(domain)) return std::nullopt;
  mailbox_id id;
  if (is_guid(local)) {
    id.kind = mailbox_id::form::guid;
  } else if (is_smtp_local(local)) {
    id.kind = mailbox_id::form::smtp;
  } else {
    return std::nullopt;
  }
  id.value = to_lower(text);
  id.domain = to_lower(domain);
  return id;
}

mailbox_query find_mailbox_id(std::string_view query, std::optional<mailbox_id>& out) {
  out.reset();
  bool seen = false;
  std::string decoded;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (!iequals(pair.substr(0, eq), "mailboxid")) continue;
    if (seen) {
      out.reset();
      return mailbox_query::malformed;
    }
    seen = true;
    if (eq == std::string_view::npos || !percent_decode(pair.substr(eq + 1), decoded))
      return mailbox_query::malformed;
    out = parse_mailbox_id(decoded);
    if (!out) return mailbox_query::malformed;
  }
  return seen ? mailbox_query::found : mailbox_query::missing;
}

}  // namespace routing
