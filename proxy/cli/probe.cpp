// `mapigate probe`: one TLS connection per step, every step under a deadline.
#include "proxy/cli/probe.hpp"

#include <openssl/ssl.h>

#include <chrono>
#include <cstring>
#include <iomanip>
#include <optional>
#include <ostream>
#include <vector>

#include "accesslog/format.hpp"
#include "proxy/io/net.hpp"
#include "routing/base64.hpp"
#include "routing/text.hpp"

namespace proxy {
namespace {

struct options {
  std::string scheme, host, path = "/mapi";
  std::uint16_t port = 443;
  std::string user, password, mailbox, user_dn, ca, connect;
  bool insecure = false;
  std::chrono::seconds timeout{10};
};

struct step {
  std::string name;
  std::chrono::system_clock::time_point start, end;
  bool ok = false;
  std::string error;
};

using response = http::response<http::string_body>;

/// https://host[:port][/path]; the path defaults to /mapi, a trailing '/' is dropped.
bool parse_url(std::string_view url, options& o, std::string& why) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    why = "URL needs a scheme (https://)";
    return false;
  }
  o.scheme = routing::to_lower(url.substr(0, sep));
  if (o.scheme != "https" && o.scheme != "http") {
    why = "URL scheme must be https or http";
    return false;
  }
  o.port = o.scheme == "https" ? 443 : 80;
  auto rest = url.substr(sep + 3);
  const auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) o.path = std::string(rest.substr(slash));
  while (o.path.size() > 1 && o.path.back() == '/')
    o.path.pop_back();
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    const auto p = authority.substr(colon + 1);
    unsigned v = 0;
    for (char c : p) {
      if (!routing::ascii_digit(c) || v > 65535) {
        why = "bad port in URL";
        return false;
      }
      v = v * 10 + unsigned(c - '0');
    }
    if (v == 0 || v > 65535) {
      why = "bad port in URL";
      return false;
    }
    o.port = std::uint16_t(v);
    authority = authority.substr(0, colon);
  }
  o.host = std::string(authority);
  if (o.host.empty()) {
    why = "URL has no host";
    return false;
  }
  return true;
}

/// A Connect request body ([MS-OXCMAPIHTTP] 2.2.4.1.1): UserDn (ASCIIZ), Flags, DefaultCodePage,
/// LcidSort, LcidString, AuxiliaryBufferSize (0).
std::string connect_body(const std::string& user_dn) {
  std::string b = user_dn;
  b.push_back('\0');
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      b.push_back(char((v >> (8 * i)) & 0xff));
  };
  u32(0);       // Flags
  u32(1252);    // DefaultCodePage
  u32(0x0409);  // LcidSort
  u32(0x0409);  // LcidString
  u32(0);       // AuxiliaryBufferSize
  return b;
}

class prober {
 public:
  explicit prober(options o) : o_(std::move(o)), ssl_(ssl::context::tls_client) {
    ssl_.set_verify_mode(o_.insecure ? ssl::verify_none : ssl::verify_peer);
    if (!o_.ca.empty())
      ssl_.load_verify_file(o_.ca);
    else
      ssl_.set_default_verify_paths();
  }

  /// Sends `req` on a new connection; the response, or nullopt with `why`.
  std::optional<response> send(http::request<http::string_body> req, std::string& why) {
    std::optional<response> out;
    net::io_context ioc;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
          auto ex = co_await net::this_coro::executor;
          tcp::resolver resolver(ex);
          auto [rec, eps] = co_await resolver.async_resolve(
              o_.connect.empty() ? o_.host : o_.connect, std::to_string(o_.port), use_nothrow);
          if (rec) {
            why = "resolve " + o_.host + ": " + rec.message();
            co_return;
          }
          beast::tcp_stream tcp_s(ex);
          tcp_s.expires_after(o_.timeout);
          auto [cec, ep] = co_await tcp_s.async_connect(eps, use_nothrow);
          if (cec) {
            why = "connect: " + cec.message();
            co_return;
          }
          req.set(http::field::host, o_.port == (o_.scheme == "https" ? 443 : 80)
                                         ? o_.host
                                         : o_.host + ":" + std::to_string(o_.port));
          req.set(http::field::user_agent, "mapigate-probe");
          req.prepare_payload();
          auto exchange = [&](auto& s) -> awaitable<void> {
            auto [wec, wn] = co_await http::async_write(s, req, use_nothrow);
            if (wec) {
              why = "send: " + wec.message();
              co_return;
            }
            beast::flat_buffer buf;
            http::response_parser<http::string_body> p;
            p.body_limit(1 << 20);
            auto [hec, hn] = co_await http::async_read(s, buf, p, use_nothrow);
            if (hec) {
              why = "response: " + hec.message();
              co_return;
            }
            out = p.release();
          };
          if (o_.scheme == "http") {
            co_await exchange(tcp_s);
            co_return;
          }
          beast::ssl_stream<beast::tcp_stream> tls_s(std::move(tcp_s), ssl_);
          SSL_set_tlsext_host_name(tls_s.native_handle(), o_.host.c_str());
          if (!o_.insecure) SSL_set1_host(tls_s.native_handle(), o_.host.c_str());
          auto [hs] = co_await tls_s.async_handshake(ssl::stream_base::client, use_nothrow);
          if (hs) {
            why = "TLS: " + hs.message();
            co_return;
          }
          co_await exchange(tls_s);
        },
        net::detached);
    ioc.run();  // bounded: every operation is under o_.timeout
    return out;
  }

  http::request<http::string_body> mapi(std::string_view type, std::string body, bool credentials) {
    http::request<http::string_body> req{http::verb::post,
                                         o_.path + "/emsmdb/?MailboxId=" + o_.mailbox, 11};
    req.set(http::field::content_type, "application/mapi-http");
    req.set("X-RequestType", type);
    req.set("X-RequestId", "{6A37AC1C-8E7B-4D3F-9E1B-2B0B5D7C1A00}:" + std::to_string(++seq_));
    req.set("X-ClientInfo", "{6A37AC1C-8E7B-4D3F-9E1B-2B0B5D7C1A00}:1");
    req.set("X-ClientApplication", "mapigate-probe/1.0");
    if (credentials)
      req.set(http::field::authorization,
              "Basic " + routing::base64_encode(o_.user + ":" + o_.password));
    if (!cookies_.empty()) req.set(http::field::cookie, cookies_);
    req.body() = std::move(body);
    return req;
  }

  /// Keeps the session cookies a response sets (name=value only).
  void keep_cookies(const response& r) {
    for (auto it = r.find(http::field::set_cookie);
         it != r.end() && it->name() == http::field::set_cookie; ++it) {
      const auto v = std::string_view(it->value());
      const auto pair = v.substr(0, v.find(';'));
      const auto name = pair.substr(0, pair.find('='));
      // Replace a cookie of the same name.
      std::string kept;
      for (std::size_t at = 0; at < cookies_.size();) {
        auto end = cookies_.find("; ", at);
        if (end == std::string::npos) end = cookies_.size();
        const auto c = std::string_view(cookies_).substr(at, end - at);
        if (c.substr(0, c.find('=')) != name) kept += (kept.empty() ? "" : "; ") + std::string(c);
        at = end + 2;
      }
      cookies_ = kept + (kept.empty() ? "" : "; ") + std::string(pair);
    }
  }

  const options& opts() const { return o_; }

 private:
  options o_;
  ssl::context ssl_;
  std::string cookies_;
  unsigned seq_ = 0;
};

/// A MAPI step: HTTP 200 and X-ResponseCode 0.
bool mapi_ok(const std::optional<response>& r, std::string& why) {
  if (!r) return false;
  if (r->result_int() != 200) {
    why = "HTTP " + std::to_string(r->result_int());
    return false;
  }
  const auto code = std::string((*r)["X-ResponseCode"]);
  if (code != "0") {
    why = "X-ResponseCode " + (code.empty() ? std::string("missing") : code);
    return false;
  }
  return true;
}

}  // namespace

int probe_main(int argc, char** argv, std::ostream& out) {
  options o;
  std::string url;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) return false;
      into = argv[++i];
      return true;
    };
    std::string seconds;
    if (a == "--user"       ? value(o.user)
        : a == "--password" ? value(o.password)
        : a == "--mailbox"  ? value(o.mailbox)
        : a == "--user-dn"  ? value(o.user_dn)
        : a == "--ca"       ? value(o.ca)
        : a == "--connect"  ? value(o.connect)
        : a == "--timeout"  ? value(seconds)
                            : false) {
      if (!seconds.empty())
        o.timeout = std::chrono::seconds(std::max(1, std::atoi(seconds.c_str())));
      continue;
    }
    if (a == "--insecure") {
      o.insecure = true;
    } else if (url.empty() && a.rfind("--", 0) != 0) {
      url = a;
    } else {
      out << "probe: unknown or incomplete argument " << a << '\n';
      return 2;
    }
  }
  std::string why;
  if (url.empty() || !parse_url(url, o, why) || o.user.empty() != o.password.empty()) {
    out << "probe: " << (why.empty() ? "need a URL, and --user with --password" : why) << '\n';
    return 2;
  }
  if (o.mailbox.empty())
    o.mailbox = o.user.find('@') != std::string::npos ? o.user : "probe@" + o.host;

  std::vector<step> steps;
  prober p(o);
  auto run = [&](const std::string& name, auto&& body) {
    step s{name, std::chrono::system_clock::now(), {}, false, {}};
    s.ok = body(s.error);
    s.end = std::chrono::system_clock::now();
    steps.push_back(std::move(s));
    return steps.back().ok;
  };

  run("healthcheck", [&](std::string& err) {
    http::request<http::string_body> req{http::verb::get, o.path + "/healthcheck.htm", 11};
    const auto r = p.send(std::move(req), err);
    if (!r) return false;
    if (r->result_int() != 200) err = "HTTP " + std::to_string(r->result_int()) + ": " + r->body();
    return r->result_int() == 200;
  });
  run("anonymous", [&](std::string& err) {
    const auto r = p.send(p.mapi("Connect", connect_body(o.user_dn), false), err);
    if (!r) return false;
    if (r->result_int() != 401) {
      err = "expected 401, got HTTP " + std::to_string(r->result_int());
      return false;
    }
    std::string schemes;
    for (auto it = r->find(http::field::www_authenticate);
         it != r->end() && it->name() == http::field::www_authenticate; ++it) {
      const auto v = std::string_view(it->value());
      schemes += (schemes.empty() ? "" : ",") + std::string(v.substr(0, v.find(' ')));
    }
    if (schemes.empty()) {
      err = "401 without WWW-Authenticate";
      return false;
    }
    err = "offers " + schemes;  // informational: shown in the table
    return true;
  });
  if (!o.user.empty()) {
    const bool connected = run("connect", [&](std::string& err) {
      const auto r = p.send(p.mapi("Connect", connect_body(o.user_dn), true), err);
      if (r) p.keep_cookies(*r);
      return mapi_ok(r, err);
    });
    if (connected) {
      run("ping", [&](std::string& err) {
        const auto r = p.send(p.mapi("PING", "", true), err);
        if (!r) return false;
        if (r->result_int() != 200) err = "HTTP " + std::to_string(r->result_int());
        return r->result_int() == 200;
      });
      run("disconnect", [&](std::string& err) {
        std::string aux(4, '\0');  // AuxiliaryBufferSize 0
        const auto r = p.send(p.mapi("Disconnect", aux, true), err);
        if (r) p.keep_cookies(*r);
        return mapi_ok(r, err);
      });
    }
  }

  bool all = true;
  out << std::left << std::setw(12) << "Probe" << std::setw(26) << "Start" << std::setw(26) << "End"
      << std::setw(9) << "Result"
      << "Error\n";
  for (const auto& s : steps) {
    all = all && s.ok;
    out << std::setw(12) << s.name << std::setw(26) << accesslog::iso_utc(s.start) << std::setw(26)
        << accesslog::iso_utc(s.end) << std::setw(9) << (s.ok ? "Success" : "Failure") << s.error
        << '\n';
  }
  return all ? 0 : 1;
}

}  // namespace proxy
