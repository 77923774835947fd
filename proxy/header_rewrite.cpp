// Request and response header rewriting between client and backend.
#include "proxy/header_rewrite.hpp"

#include <string>
#include <vector>

#include "routing/text.hpp"

namespace proxy {

void strip_hop_by_hop(relay_fields& f, bool is_request) {
  // Collect the tokens named by Connection first: erasing while reading would invalidate them.
  std::vector<std::string> named;
  for (auto it = f.find(http::field::connection);
       it != f.end() && it->name() == http::field::connection; ++it) {
    for (auto token : http::token_list(it->value()))
      named.emplace_back(token);
  }
  for (const auto& n : named) {
    // Never let a client strip the framing or routing fields by naming them in Connection.
    if (routing::iequals(n, "host") || routing::iequals(n, "content-length")) continue;
    f.erase(n);
  }
  f.erase(http::field::connection);
  f.erase(http::field::keep_alive);
  f.erase("Proxy-Connection");
  f.erase(http::field::te);
  f.erase(http::field::trailer);
  f.erase(http::field::upgrade);
  f.erase(http::field::transfer_encoding);
  if (is_request) {
    f.erase(http::field::proxy_authorization);
    f.erase(http::field::expect);
  }
}

void append_forwarded_for(relay_fields& f, std::string_view client_ip) {
  auto it = f.find("X-Forwarded-For");
  if (it == f.end()) {
    f.insert("X-Forwarded-For", client_ip);
    return;
  }
  std::string value(it->value());
  value += ", ";
  value += client_ip;
  // set() would replace the name with Beast's canonical spelling; keep the client's.
  const std::string name(it->name_string());
  f.erase("X-Forwarded-For");
  f.insert(name, value);
}

}  // namespace proxy
