// IPv4 and IPv6 networks in CIDR form, for the lists of trusted or exempt client addresses.
// Pure; part of the leaf text library (config/ validates with it, routing/ matches with it).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace routing {

/// An IPv4 or IPv6 network ("10.0.0.0/8", "2001:db8::/32", or one address).
struct cidr {
  std::array<std::uint8_t, 16> net{};
  unsigned prefix = 0;
  bool v6 = false;
};
/// nullopt when `text` is not a network (host bits set are accepted and ignored).
std::optional<cidr> parse_cidr(std::string_view text);
/// Whether the address `ip` (text, as the proxy logs it) is inside `n`.
bool contains(const cidr& n, std::string_view ip);
/// Whether `ip` is inside any of `nets`.
bool contains_any(std::span<const cidr> nets, std::string_view ip);

/// The client behind trusted L7 hops: `peer` unless it is in `trusted`; then, walking the
/// X-Forwarded-For entries (`values`: every field, in order, each a comma list) from the right,
/// the first entry not in `trusted`. What an untrusted party wrote further left is never used;
/// an entry that is not an address stops the walk at the hop that reported it. All trusted:
/// the leftmost.
std::string right_most_untrusted(std::span<const std::string_view> values, std::string_view peer,
                                 std::span<const cidr> trusted);

}  // namespace routing
