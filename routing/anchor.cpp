// Anchors of the non-MAPI vdirs.
#include "routing/anchor.hpp"

#include "routing/text.hpp"

namespace routing {
namespace {

/// The value of the one `name=` parameter (name case-insensitive), percent-decoded; nullopt
/// when absent, repeated or undecodable.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || !iequals(pair.substr(0, eq), name)) continue;
    std::string decoded;
    if (out || !percent_decode(pair.substr(eq + 1), decoded)) return std::nullopt;
    out = std::move(decoded);
  }
  return out;
}

bool dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.front() == '-') return false;
  for (const char c : s)
    if (!ascii_alnum(c) && c != '.' && c != '-') return false;
  return s.find("..") == std::string_view::npos;
}

}  // namespace

std::optional<anchor> anchor_from_header(std::string_view value) {
  value = trim(value);
  if (value.size() > 5 && iequals(value.substr(0, 5), "smtp:")) value.remove_prefix(5);
  auto id = parse_mailbox_id(value);
  if (!id) return std::nullopt;
  return anchor{std::move(*id), anchor_source::anchor_header};
}

std::optional<anchor> anchor_from_rpc_query(std::string_view query, unsigned& port) {
  const auto colon = query.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const auto digits = query.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  unsigned p = 0;
  for (const char c : digits) {
    if (!ascii_digit(c)) return std::nullopt;
    p = p * 10 + unsigned(c - '0');
  }
  if (p == 0 || p > 65535) return std::nullopt;
  std::string server;
  if (!percent_decode(query.substr(0, colon), server)) return std::nullopt;
  port = p;
  if (auto id = parse_mailbox_id(server)) return anchor{std::move(*id), anchor_source::rpc_server};
  if (!dns_name(server)) return std::nullopt;
  mailbox_id id;
  id.kind = mailbox_id::form::server;
  id.value = to_lower(server);
  return anchor{std::move(id), anchor_source::rpc_server};
}

std::optional<anchor> anchor_from_activesync_query(std::string_view query) {
  const auto user = query_param(query, "User");
  if (!user || user->empty() || user->size() > 256) return std::nullopt;
  for (const char c : *user)
    if (!ascii_alnum(c) && c != '.' && c != '-' && c != '_' && c != '@' && c != '\\')
      return std::nullopt;
  if (user->find('@') != std::string::npos) {
    auto id = parse_mailbox_id(*user);
    if (!id) return std::nullopt;
    return anchor{std::move(*id), anchor_source::activesync_user};
  }
  mailbox_id id;
  id.kind = mailbox_id::form::user;
  id.value = to_lower(*user);
  return anchor{std::move(id), anchor_source::activesync_user};
}

std::string anchor_column(const mailbox_id& id) {
  switch (id.kind) {
    case mailbox_id::form::guid:
      return "MailboxGuid~" + std::string(id.local());
    case mailbox_id::form::smtp:
      return "Smtp~" + id.value;
    case mailbox_id::form::user:
      return "User~" + id.value;
    case mailbox_id::form::server:
      return "ServerInfo~" + id.value;
  }
  return {};
}

std::string routing_hint(anchor_source source, const mailbox_id* id, bool by_cookie) {
  std::string out;
  switch (source) {
    case anchor_source::none:
      out = "DefaultRoute";
      break;
    case anchor_source::url:
      out = "Url";
      break;
    case anchor_source::anchor_header:
      out = "AnchorMailboxHeader";
      break;
    case anchor_source::rpc_server:
      out = "RpcServer";
      break;
    case anchor_source::activesync_user:
      out = "ActiveSyncUser";
      break;
    case anchor_source::autodiscover_body:
      out = "AutodiscoverRequest";
      break;
  }
  if (id) {
    switch (id->kind) {
      case mailbox_id::form::guid:
        out += "-MailboxGuidWithDomain";
        break;
      case mailbox_id::form::smtp:
        out += "-SMTP";
        break;
      case mailbox_id::form::user:
        out += "-User";
        break;
      case mailbox_id::form::server:
        out += "-ServerName";
        break;
    }
  }
  if (by_cookie) out += "-ServerCookie";
  return out;
}

}  // namespace routing
