// The anchor mailbox of requests to the vdirs besides /mapi: what each protocol names its
// mailbox with, as Exchange's front end reads it (X-AnchorMailbox, the RPC server name of
// Outlook Anywhere, ActiveSync's User=, Autodiscover's EMailAddress). Pure, table-tested;
// every value is client input: parsed strictly, never used as a host, port or path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "routing/mailbox_id.hpp"

namespace routing {

/// Where the anchor came from: the RoutingHint column says it as Exchange does (its
/// AnchorMailbox source, then "-SMTP" or "-MailboxGuidWithDomain").
enum class anchor_source {
  none,               ///< no anchor: the vdir's default route, hashed by the client address
  url,                ///< /mapi's MailboxId
  anchor_header,      ///< X-AnchorMailbox
  rpc_server,         ///< /rpc/rpcproxy.dll?<server>:<port>
  activesync_user,    ///< Microsoft-Server-ActiveSync?User=
  autodiscover_body,  ///< the POX request's EMailAddress
};

/// A mailbox anchor: `id.value` is the route and hash key.
struct anchor {
  mailbox_id id;
  anchor_source source = anchor_source::none;
};

/// X-AnchorMailbox: an SMTP address or a MailboxId (`<guid>@<domain>`), optionally prefixed
/// "SMTP:". nullopt for anything else (it is then ignored, as a malformed hint).
std::optional<anchor> anchor_from_header(std::string_view value);

/// Outlook Anywhere's query, `<server>:<port>` (RPC_IN_DATA/RPC_OUT_DATA and the NTLM legs):
/// since Exchange 2013 the server is the mailbox's `<guid>@<domain>`; an older profile names a
/// server FQDN (anchor form `server`). `port` is 6001 (mailbox), 6002 or 6004 (address book).
/// nullopt when the query is not that (a port outside 1..65535, a name that is neither).
std::optional<anchor> anchor_from_rpc_query(std::string_view query, unsigned& port);

/// ActiveSync's `User=` (percent-decoded): `user`, `DOMAIN\user` or `user@domain`, at most
/// 256 characters of letters, digits and `.-_@\`. A repeated parameter is malformed: nullopt.
std::optional<anchor> anchor_from_activesync_query(std::string_view query);

/// The AnchorMailbox column: `MailboxGuid~<guid>`, `Smtp~<address>`, `User~<name>` or
/// `ServerInfo~<fqdn>`.
std::string anchor_column(const mailbox_id& id);

/// The RoutingHint column for an anchor (with `-ServerCookie` when an affinity token chose the
/// backend, as Exchange appends it when its X-BackEndCookie did).
std::string routing_hint(anchor_source source, const mailbox_id* id, bool by_cookie);

}  // namespace routing
