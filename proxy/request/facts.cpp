// One pass over a request's fields for routing, and the Cookie rewrite.
#include "proxy/request/facts.hpp"

#include <time.h>

#include <chrono>

#include "routing/cookies.hpp"
#include "routing/namespaces.hpp"

namespace proxy {

request_facts read_request_facts(const relay_fields& f, std::string_view cookie_name) {
  request_facts out;
  for (const auto& field : f) {
    switch (field.name()) {
      case http::field::host:
        ++out.hosts;
        out.host = field.value();
        break;
      case http::field::authorization:
        out.authorization = field.value();
        break;
      case http::field::user_agent:
        if (!out.user_agent) out.user_agent = field.value();
        break;
      case http::field::cookie: {
        // Affinity off: no cookie of ours to take (a name no client can send: cookie names are
        // tokens, never control characters).
        auto split = routing::split_cookie_header(
            field.value(), cookie_name.empty() ? std::string_view("\x01") : cookie_name);
        if (split.value) out.token = std::move(split.value);
        out.be_resource = out.be_resource || split.removed_be_resource;
        out.cookies_changed = out.cookies_changed || split.changed;
        out.cookie_rest.push_back(std::move(split.rest));
        break;
      }
      default:
        if (beast::iequals(field.name_string(), "X-RequestType"))
          out.request_type = field.value();
        else if (beast::iequals(field.name_string(), "X-RequestId"))
          out.request_id = field.value();
        else if (beast::iequals(field.name_string(), "X-Forwarded-For"))
          out.forwarded_for.push_back(field.value());
        else if (beast::iequals(field.name_string(), "X-AnchorMailbox")) {
          ++out.anchor_mailboxes;
          out.anchor_mailbox = field.value();
        } else if (beast::iequals(field.name_string(), "X-ClientInfo")) {
          if (!out.client_info) out.client_info = field.value();
        }
        break;
    }
  }
  if (out.host) out.host_name = routing::normalize_host(*out.host).value_or("");
  return out;
}

void rewrite_cookies(relay_fields& f, const request_facts& facts) {
  std::string name = "Cookie";
  if (auto it = f.find(http::field::cookie); it != f.end()) name = std::string(it->name_string());
  f.erase(http::field::cookie);
  for (const auto& rest : facts.cookie_rest)
    if (!rest.empty()) f.insert(name, rest);
}

std::int64_t unix_now() noexcept {
  // Whole seconds: the coarse clock (a tick or so behind, io/coarse_clock.hpp) is exact enough.
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec);
}

}  // namespace proxy
