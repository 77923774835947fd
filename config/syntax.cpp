// Text rules of the config schema: host:port, /mapi URLs, names, mailbox and domain keys.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "config/detail.hpp"
#include "routing/text.hpp"

namespace config::detail {

namespace {

using routing::ascii_alnum;
using routing::ascii_digit;
using routing::to_lower;

bool is_space_or_control(char c) {
  return c == ' ' || routing::ascii_control(c);
}
bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ascii_digit);
}

bool valid_ipv4(std::string_view host) {
  unsigned char buf[4];
  return ::inet_pton(AF_INET, std::string(host).c_str(), buf) == 1;
}

// Parses a port of 1..5 digits in min..65535. Returns "" or the reason.
std::string parse_port(std::string_view text, std::uint16_t min_port, std::uint16_t& out) {
  if (text.empty()) return "missing port after \":\"";
  if (!all_digits(text)) return "port " + quote(text) + " is not a number";
  const unsigned long value = text.size() > 5 ? 65536 : std::stoul(std::string(text));
  if (value < min_port || value > 65535) {
    return "port " + std::string(text) + " out of range " + std::to_string(min_port) + "..65535";
  }
  out = static_cast<std::uint16_t>(value);
  return "";
}

// Host part of an authority: "[v6]" or a name / IPv4 literal. `rest` gets what follows it.
std::string parse_host(std::string_view text, std::string& host, std::string_view& rest) {
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return "missing \"]\" after the IPv6 address";
    const auto inside = text.substr(1, close - 1);
    if (!valid_ipv6(inside)) return "invalid IPv6 address " + quote(inside);
    host = std::string(inside);
    rest = text.substr(close + 1);
    return "";
  }
  const auto colon = text.find(':');
  const auto name = text.substr(0, colon);
  rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  if (rest.find(':', 1) != std::string_view::npos) {
    return "IPv6 addresses must be in brackets, e.g. \"[::1]:8443\"";
  }
  if (name.empty()) return "missing host";
  if (!valid_host_name(name)) return "invalid host " + quote(name);
  host = std::string(name);
  return "";
}

}  // namespace

std::string quote(std::string_view text) {
  constexpr std::size_t max_chars = 80;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const char c = text[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (routing::ascii_control(c)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  if (text.size() > max_chars) out += "...";
  return out + "\"";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::string_view last_label;
  std::size_t start = 0;
  while (true) {
    const auto dot = host.find('.', start);
    const auto label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (const char c : label) {
      if (!ascii_alnum(c) && c != '-') return false;
    }
    last_label = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // No top-level domain is all digits, so such a host must be a dotted-quad IPv4 literal.
  return !all_digits(last_label) || valid_ipv4(host);
}

bool valid_ipv6(std::string_view host) {
  unsigned char buf[16];
  return !host.empty() && ::inet_pton(AF_INET6, std::string(host).c_str(), buf) == 1;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return ascii_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::string parse_endpoint(std::string_view text, std::uint16_t min_port, endpoint& out) {
  if (text.empty()) return "missing host and port";
  std::string host;
  std::string_view rest;
  if (auto why = parse_host(text, host, rest); !why.empty()) return why;
  if (rest.empty() || rest.front() != ':') return "missing \":port\"";
  std::uint16_t port = 0;
  if (auto why = parse_port(rest.substr(1), min_port, port); !why.empty()) return why;
  out.host = std::move(host);
  out.port = port;
  return "";
}

std::string parse_url(std::string_view text, vdir_url& out) {
  if (std::any_of(text.begin(), text.end(), is_space_or_control)) {
    return "must not contain spaces or control characters";
  }
  if (text.find_first_of("?#") != std::string_view::npos) {
    return "must not have a query or fragment";
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return "missing scheme (expected \"https://\" or \"http://\")";
  }
  const std::string scheme = to_lower(text.substr(0, sep));
  if (scheme != "https" && scheme != "http") {
    return "unsupported scheme " + quote(scheme) + " (expected http or https)";
  }
  const auto rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return "must not contain user information";
  std::string host;
  std::string_view after_host;
  if (auto why = parse_host(authority, host, after_host); !why.empty()) return why;
  std::uint16_t port = scheme == "https" ? 443 : 80;
  if (!after_host.empty()) {
    if (after_host.front() != ':') return "invalid host " + quote(authority);
    if (auto why = parse_port(after_host.substr(1), 1, port); !why.empty()) return why;
  }
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  if (path.empty()) return "missing path (e.g. \"/mapi\")";
  out.url = std::string(text);
  out.scheme = scheme;
  out.host = to_lower(host);
  out.port = port;
  out.path = std::string(path);
  return "";
}

bool parse_mailbox(std::string_view text, std::string& out) {
  const auto at = text.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == text.size()) return false;
  if (text.find('@', at + 1) != std::string_view::npos) return false;
  if (std::any_of(text.begin(), text.end(), is_space_or_control)) return false;
  out = to_lower(text);
  return true;
}

bool parse_domain(std::string_view text, std::string& out) {
  if (text.empty() || text.find('@') != std::string_view::npos) return false;
  if (std::any_of(text.begin(), text.end(), is_space_or_control)) return false;
  out = to_lower(text);
  return true;
}

bool valid_cookie_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  constexpr std::string_view separators = "()<>@,;:\\\"/[]?={}";
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return !is_space_or_control(c) && static_cast<unsigned char>(c) < 0x80 &&
           separators.find(c) == std::string_view::npos;
  });
}

}  // namespace config::detail
