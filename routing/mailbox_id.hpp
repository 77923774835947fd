// MailboxId: the routing key Outlook puts in the query string of every MAPI/HTTP request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace routing {

/// `<mailbox GUID>@<domain>` as Autodiscover hands it out, or an SMTP address (seen in real
/// traffic from non-Outlook clients). Both parts are stored lower-cased.
struct mailbox_id {
  /// guid and smtp: a mailbox address (`value` has '@'); user: ActiveSync's user name;
  /// server: an Outlook Anywhere profile's RPC server FQDN (routing/anchor.hpp).
  enum class form { guid, smtp, user, server };
  form kind = form::guid;
  std::string value;   ///< "<local>@<domain>", lower-cased: the hash and route key
  std::string domain;  ///< part after '@'

  std::string_view local() const { return std::string_view(value).substr(0, value.find('@')); }
};

/// Parses one MailboxId value (already percent-decoded). nullopt when it is not
/// `<local>@<domain>` with a GUID or a plausible SMTP local part and a DNS-shaped domain.
std::optional<mailbox_id> parse_mailbox_id(std::string_view text);

/// Outcome of looking for the MailboxId parameter in a query string.
enum class mailbox_query { found, missing, malformed };

/// Finds `MailboxId` (name case-insensitive, as Exchange reads it) in `query` (the part after
/// '?', without it), percent-decodes and parses it. A repeated parameter counts as malformed:
/// two values could route differently in two hops.
mailbox_query find_mailbox_id(std::string_view query, std::optional<mailbox_id>& out);

}  // namespace routing
