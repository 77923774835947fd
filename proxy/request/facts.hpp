// What routing and logging need from a parsed request head, read in one pass over its fields,
// and the Cookie rewrite that keeps mapigate's own cookie (and X-BEResource) from the backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/io/net.hpp"

namespace proxy {

/// Views point into the request's fields: valid until the fields change.
struct request_facts {
  std::size_t hosts = 0;
  std::optional<std::string_view> host;
  std::string host_name;  ///< Host without port, for the Basic realm
  std::string_view request_type;
  std::string_view request_id;
  std::optional<std::string_view> authorization;
  std::optional<std::string_view> user_agent;      ///< the first User-Agent field
  std::optional<std::string_view> client_info;     ///< the first X-ClientInfo field
  std::optional<std::string_view> anchor_mailbox;  ///< X-AnchorMailbox
  std::size_t anchor_mailboxes = 0;                ///< how many X-AnchorMailbox fields
  std::vector<std::string_view> forwarded_for;     ///< every X-Forwarded-For field, in order
  std::optional<std::string> token;                ///< mapigate's affinity cookie value
  bool cookies_changed = false;          ///< Cookie fields must be rewritten before forwarding
  bool be_resource = false;              ///< an X-BEResource cookie was dropped
  std::vector<std::string> cookie_rest;  ///< per Cookie field, what stays ("" drops the field)
};

/// `cookie_name` empty: affinity is off, only X-BEResource is taken out.
request_facts read_request_facts(const relay_fields& f, std::string_view cookie_name);

/// Replaces the Cookie fields with facts.cookie_rest (same name spelling, same position order
/// among themselves; empty ones dropped).
void rewrite_cookies(relay_fields& f, const request_facts& facts);

/// Seconds since the Unix epoch (affinity token age).
std::int64_t unix_now() noexcept;

}  // namespace proxy
