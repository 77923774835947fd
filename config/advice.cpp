// Valid-but-unsafe values, each with the reason an admin needs to decide.
#include "config/advice.hpp"

#include <algorithm>

namespace config {
namespace {

/// `d` as the configuration writes it: "20s", or "1500ms" when not whole seconds.
std::string seconds(duration d) {
  return d.count() % 1000 ? std::to_string(d.count()) + "ms"
                          : std::to_string(d.count() / 1000) + "s";
}

bool has_https_url(const snapshot& s) {
  for (const auto* u : {&s.mapi.internal_url, &s.mapi.external_url})
    if (*u && (*u)->scheme == "https") return true;
  return false;
}

void listener_advice(const snapshot& s, std::vector<std::string>& out) {
  for (const auto& l : s.listeners) {
    if (!l.tls) {
      if (has_https_url(s))
        out.push_back("listeners[" + l.name +
                      "]: plain HTTP while the namespace URLs are https: only right behind a "
                      "TLS hop that forwards to it; Outlook cannot reach it directly");
      continue;
    }
    const auto& alpn = l.tls->alpn;
    if (std::find(alpn.begin(), alpn.end(), "http/1.1") == alpn.end())
      out.push_back("listeners[" + l.name +
                    "].tls.alpn: no http/1.1: NTLM and Negotiate need HTTP/1.1 (an HTTP/2 "
                    "client is told HTTP_1_1_REQUIRED and has nowhere to go)");
    // Behind a balancer (PROXY protocol) there are several instances, or will be.
    if (l.proxy_protocol != proxy_protocol::off && l.tls->ticket_key_files.empty())
      out.push_back("listeners[" + l.name +
                    "].tls.ticket_key_files: none behind a balancer: an Outlook that reconnects "
                    "to another instance cannot resume its TLS session (a full handshake each "
                    "time); share one key file between the instances");
  }
}

void backend_advice(const snapshot& s, std::vector<std::string>& out) {
  for (const auto& b : s.backends) {
    if (b.address.port == 444)
      out.push_back("backends[" + b.name +
                    "].address: port 444 is Exchange's Back End site, which only takes requests "
                    "Exchange's own front end proxied; use the mailbox server's HTTPS site (443)");
    if (b.tls && !b.tls->verify)
      out.push_back("backends[" + b.name +
                    "].tls.verify: false: anyone on the path to the mailbox server can read "
                    "and change the traffic, credentials included");
  }
}

}  // namespace

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::vector<std::string> unsafe_values(const snapshot& s) {
  std::vector<std::string> out;
  listener_advice(s, out);
  backend_advice(s, out);
  if (s.timeouts.upstream_idle < longest_pending_period)
    out.push_back("timeouts.upstream_idle: " + seconds(s.timeouts.upstream_idle) +
                  " is shorter than Exchange's longest PENDING period (30s): a NotificationWait "
                  "held between two PENDINGs would be cut");
  if (s.timeouts.drain + s.timeouts.accept_grace > shipped_stop_timeout)
    out.push_back("timeouts.drain + timeouts.accept_grace: " +
                  seconds(s.timeouts.drain + s.timeouts.accept_grace) +
                  " is longer than the shipped systemd unit's TimeoutStopSec (45s): systemd "
                  "would kill mapigate mid-drain; raise TimeoutStopSec with it");
  if (s.admin && !is_loopback(s.admin->address.host) && s.admin->token.empty())
    out.push_back("admin.address: " + s.admin->address.host +
                  " is not loopback and admin.token_file is not set: anyone who reaches it can "
                  "cordon backends and read the metrics");
  return out;
}

}  // namespace config
