// Cookie header handling.
#include "routing/cookies.hpp"

#include "routing/text.hpp"

namespace routing {
cookie_split split_cookie_header(std::string_view header, std::string_view name) {
  cookie_split out;
  while (!header.empty()) {
    const auto semi = header.find(';');
    const auto pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const auto eq = pair.find('=');
    const auto key = trim(pair.substr(0, eq));
    if (eq != std::string_view::npos && key == name) {  // cookie names are case-sensitive
      out.value = std::string(trim(pair.substr(eq + 1)));
      out.changed = true;
      continue;
    }
    if (eq != std::string_view::npos && iequals(key, "X-BEResource")) {
      out.removed_be_resource = true;
      out.changed = true;
      continue;
    }
    const auto kept = trim(pair);
    if (kept.empty()) continue;
    if (!out.rest.empty()) out.rest += "; ";
    out.rest += kept;
  }
  return out;
}

std::string affinity_set_cookie(std::string_view name, std::string_view value) {
  std::string s(name);
  s += '=';
  s += value;
  s += "; Path=/mapi; Secure; HttpOnly";
  return s;
}

}  // namespace routing
