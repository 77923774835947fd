// Request and response header rewriting between client and backend.
#include "proxy/request/header_rewrite.hpp"

#include <iterator>
#include <string>
#include <string_view>

#include <boost/container/small_vector.hpp>

#include "routing/text.hpp"

namespace proxy {

void strip_hop_by_hop(relay_fields& f, bool is_request) {
  // The tokens Connection names are views into its values: Connection itself goes last. Outlook
  // names one ("Keep-Alive") on every request: held inline, not on the heap. Found in a walk by
  // the fields' codes, as the rest below: a search by name walks the fields' tree, and most
  // responses have no Connection field at all.
  boost::container::small_vector<std::string_view, 4> named;
  bool connection = false;
  for (const auto& e : f) {
    if (e.name() != http::field::connection) continue;
    connection = true;
    for (const auto token : http::token_list(e.value())) {
      const std::string_view t(token.data(), token.size());
      // Never let a client strip the framing or routing fields by naming them in Connection.
      if (!routing::iequals(t, "host") && !routing::iequals(t, "content-length"))
        named.push_back(t);
    }
  }
  // One pass in wire order, erasing by position: a lookup by name per hop-by-hop field costs
  // a tree search each, for fields that are almost never there.
  const auto hop = [&](const relay_fields::value_type& e) {
    switch (e.name()) {
      case http::field::keep_alive:
      case http::field::proxy_connection:
      case http::field::te:
      case http::field::trailer:
      case http::field::upgrade:
      case http::field::transfer_encoding:
        return true;
      case http::field::proxy_authorization:
      case http::field::expect:
        if (is_request) return true;
        break;
      case http::field::connection:
        return false;  // after the loop
      default:
        break;
    }
    for (const auto t : named)
      if (routing::iequals(e.name_string(), t)) return true;
    return false;
  };
  for (auto it = f.begin(); it != f.end();)
    it = hop(*it) ? f.erase(it) : std::next(it);
  if (connection) f.erase(http::field::connection);
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
