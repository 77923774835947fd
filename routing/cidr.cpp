// CIDR networks: inet_pton and a prefix compare.
#include "routing/cidr.hpp"

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "routing/text.hpp"

namespace routing {
namespace {

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text, bool& v6) {
  std::array<std::uint8_t, 16> out{};
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) {
    v6 = false;
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) {
    v6 = true;
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  cidr n;
  const auto ip = parse_ip(text.substr(0, slash), n.v6);
  if (!ip) return std::nullopt;
  n.net = *ip;
  const unsigned bits = n.v6 ? 128 : 32;
  n.prefix = bits;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    unsigned v = 0;
    for (const char c : p) {
      if (!ascii_digit(c)) return std::nullopt;
      v = v * 10 + unsigned(c - '0');
    }
    if (v > bits) return std::nullopt;
    n.prefix = v;
  }
  return n;
}

bool contains(const cidr& n, std::string_view ip) {
  bool v6 = false;
  const auto a = parse_ip(ip, v6);
  if (!a || v6 != n.v6) return false;
  for (unsigned bit = 0; bit < n.prefix; ++bit) {
    const auto mask = std::uint8_t(0x80u >> (bit % 8));
    if (((*a)[bit / 8] & mask) != (n.net[bit / 8] & mask)) return false;
  }
  return true;
}

bool contains_any(std::span<const cidr> nets, std::string_view ip) {
  for (const auto& n : nets)
    if (contains(n, ip)) return true;
  return false;
}

std::string right_most_untrusted(std::span<const std::string_view> values, std::string_view peer,
                                 std::span<const cidr> trusted) {
  std::string client(peer);
  if (!contains_any(trusted, peer)) return client;
  std::vector<std::string_view> entries;
  for (auto v : values)
    while (!v.empty()) {
      const auto comma = v.find(',');
      entries.push_back(trim(v.substr(0, comma)));
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    }
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    bool v6 = false;
    if (!parse_ip(*it, v6)) return client;  // not an address: the hop that reported it
    client = std::string(*it);
    if (!contains_any(trusted, *it)) return client;
  }
  return client;
}

}  // namespace routing
