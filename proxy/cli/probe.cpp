// `mapigate probe`: each step on a connection of its own, except that the steps after a logon
// stay on the logon's connection (NTLM authenticates a connection, not a request). Every
// operation is under the --timeout deadline.
#include "proxy/cli/probe.hpp"

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <termios.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "accesslog/format.hpp"
#include "proxy/io/net.hpp"
#include "routing/base64.hpp"
#include "routing/ntlm.hpp"
#include "routing/ntlm_client.hpp"
#include "routing/text.hpp"

namespace proxy {
namespace po = boost::program_options;
namespace {

struct options {
  std::string scheme, host, path = "/mapi";
  std::uint16_t port = 443;
  std::string user, password, mailbox, user_dn, ca, connect, auth = "auto";
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
using request = http::request<http::string_body>;

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

std::string asn1_iso(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  return accesslog::iso_utc_unix(timegm(&tm));
}

/// Up to four DNS names of `cert`'s subjectAltName, comma-separated.
std::string dns_names(X509* cert) {
  std::string out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0, shown = 0; names != nullptr && i < sk_GENERAL_NAME_num(names) && shown < 4; ++i) {
    const auto* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_DNS) continue;
    const auto* s = n->d.dNSName;
    out +=
        (shown++ ? "," : "") + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                           std::size_t(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return out.empty() ? "none" : out;
}

/// What went wrong with the server's certificate, in the words curl and browsers use: a name
/// mismatch, an untrusted issuer, an expired or not yet valid certificate, or OpenSSL's text.
std::string describe_verify_failure(X509_STORE_CTX* ctx, const std::string& host) {
  const int e = X509_STORE_CTX_get_error(ctx);
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  if (cert == nullptr) return X509_verify_cert_error_string(e);
  switch (e) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "name mismatch: the certificate does not name " + host +
             " (its names: " + dns_names(cert) + ")";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate expired on " + asn1_iso(X509_get0_notAfter(cert));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate not valid before " + asn1_iso(X509_get0_notBefore(cert));
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED: {
      char issuer[256];
      X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof issuer);
      return std::string("untrusted issuer: ") + issuer + " (--ca names the CA to trust)";
    }
    default:
      return X509_verify_cert_error_string(e);
  }
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

  /// Sends `req` (Host, User-Agent, cookies and framing added) on the open connection, or on a
  /// new one when there is none or `fresh`. The response, or nullopt with `why`. The connection
  /// stays open while both sides keep it alive.
  std::optional<response> send(request req, std::string& why, bool fresh) {
    if (fresh) close();
    std::optional<response> out;
    net::co_spawn(
        ioc_,
        [&]() -> awaitable<void> {
          if (!tcp_ && !tls_ && !co_await open(why)) co_return;
          req.set(http::field::host, o_.port == (o_.scheme == "https" ? 443 : 80)
                                         ? o_.host
                                         : o_.host + ":" + std::to_string(o_.port));
          req.set(http::field::user_agent, "mapigate-probe");
          if (!cookies_.empty()) req.set(http::field::cookie, cookies_);
          req.prepare_payload();
          if (tls_)
            co_await exchange(*tls_, req, out, why);
          else
            co_await exchange(*tcp_, req, out, why);
        },
        net::detached);
    ioc_.restart();
    ioc_.run();  // bounded: every operation is under o_.timeout
    if (!out || !out->keep_alive()) close();
    if (out) keep_cookies(*out);
    return out;
  }

  bool connected() const { return tcp_ || tls_; }

  void close() {
    tls_.reset();
    tcp_.reset();
    buf_.clear();
  }

  /// A MAPI request to the mailbox's emsmdb endpoint.
  request mapi(std::string_view type, std::string body) {
    request req{http::verb::post, o_.path + "/emsmdb/?MailboxId=" + o_.mailbox, 11};
    req.set(http::field::content_type, "application/mapi-http");
    req.set("X-RequestType", type);
    req.set("X-RequestId", "{6A37AC1C-8E7B-4D3F-9E1B-2B0B5D7C1A00}:" + std::to_string(++seq_));
    req.set("X-ClientInfo", "{6A37AC1C-8E7B-4D3F-9E1B-2B0B5D7C1A00}:1");
    req.set("X-ClientApplication", "mapigate-probe/1.0");
    req.body() = std::move(body);
    return req;
  }

  const options& opts() const { return o_; }

 private:
  awaitable<bool> open(std::string& why) {
    auto ex = co_await net::this_coro::executor;
    tcp::resolver resolver(ex);
    auto [rec, eps] = co_await resolver.async_resolve(o_.connect.empty() ? o_.host : o_.connect,
                                                      std::to_string(o_.port), use_nothrow);
    if (rec) {
      why = "resolve " + o_.host + ": " + rec.message();
      co_return false;
    }
    auto tcp_s = std::make_unique<beast::tcp_stream>(ex);
    tcp_s->expires_after(o_.timeout);
    auto [cec, ep] = co_await tcp_s->async_connect(eps, use_nothrow);
    if (cec) {
      why = "connect: " + cec.message();
      co_return false;
    }
    if (o_.scheme == "http") {
      tcp_ = std::move(tcp_s);
      co_return true;
    }
    auto tls_s = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*tcp_s), ssl_);
    SSL_set_tlsext_host_name(tls_s->native_handle(), o_.host.c_str());
    std::string failure;
    if (!o_.insecure) {
      SSL_set1_host(tls_s->native_handle(), o_.host.c_str());
      tls_s->set_verify_callback([&](bool ok, ssl::verify_context& vc) {
        if (!ok && failure.empty()) failure = describe_verify_failure(vc.native_handle(), o_.host);
        return ok;
      });
    }
    auto [hs] = co_await tls_s->async_handshake(ssl::stream_base::client, use_nothrow);
    if (hs) {
      why = "TLS " + (failure.empty() ? hs.message() : failure);
      co_return false;
    }
    tls_ = std::move(tls_s);
    co_return true;
  }

  template <class Stream>
  awaitable<void> exchange(Stream& s, request& req, std::optional<response>& out,
                           std::string& why) {
    beast::get_lowest_layer(s).expires_after(o_.timeout);
    auto [wec, wn] = co_await http::async_write(s, req, use_nothrow);
    if (wec) {
      why = "send: " + wec.message();
      co_return;
    }
    http::response_parser<http::string_body> p;
    p.body_limit(1 << 20);
    auto [hec, hn] = co_await http::async_read(s, buf_, p, use_nothrow);
    if (hec) {
      why = "response: " + hec.message();
      co_return;
    }
    out = p.release();
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

  options o_;
  ssl::context ssl_;
  net::io_context ioc_;
  std::unique_ptr<beast::tcp_stream> tcp_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buf_;
  std::string cookies_;
  unsigned seq_ = 0;
};

/// The schemes a 401 offers (first word of each WWW-Authenticate), in order.
std::vector<std::string> offered_schemes(const response& r) {
  std::vector<std::string> out;
  for (auto it = r.find(http::field::www_authenticate);
       it != r.end() && it->name() == http::field::www_authenticate; ++it) {
    const auto v = std::string_view(it->value());
    out.emplace_back(v.substr(0, v.find(' ')));
  }
  return out;
}

/// The scheme to log on with: --auth, or (auto) NTLM, then Negotiate (carrying NTLM), then
/// Basic, among those offered. Empty when none fits.
std::string choose_scheme(const std::string& auth, const std::vector<std::string>& offered) {
  auto has = [&](std::string_view s) {
    for (const auto& o : offered)
      if (routing::iequals(o, s)) return true;
    return false;
  };
  if (auth == "ntlm") return "NTLM";
  if (auth == "negotiate") return "Negotiate";
  if (auth == "basic") return "Basic";
  for (const char* s : {"NTLM", "Negotiate", "Basic"})
    if (has(s)) return s;
  return {};
}

/// Logs on and sends `req` with the credentials: Basic in the request itself; NTLM and
/// Negotiate by a handshake on a new connection whose last leg carries `req` (the connection
/// is then authenticated for the requests after it).
class logon {
 public:
  logon(prober& p, std::string scheme) : p_(p), scheme_(std::move(scheme)) {}

  std::optional<response> send(request req, std::string& why) {
    const auto& o = p_.opts();
    if (scheme_ == "Basic") {
      req.set(http::field::authorization,
              "Basic " + routing::base64_encode(o.user + ":" + o.password));
      return p_.send(std::move(req), why, false);
    }
    if (p_.connected() && handshaken_) return p_.send(std::move(req), why, false);
    return handshake(std::move(req), why);
  }

 private:
  std::optional<response> handshake(request req, std::string& why) {
    const auto& o = p_.opts();
    request first = req;
    first.body().clear();  // the challenge leg carries no body
    first.set(http::field::authorization,
              scheme_ + " " + routing::base64_encode(routing::ntlm::build_negotiate()));
    const auto challenge = p_.send(std::move(first), why, true);
    if (!challenge) return std::nullopt;
    const auto fields = challenge_of(*challenge);
    if (!fields) {
      why = "no " + scheme_ + " challenge in the answer (HTTP " +
            std::to_string(challenge->result_int()) + ")";
      return std::nullopt;
    }
    if (!p_.connected()) {
      why = "the server closed the connection after the " + scheme_ + " challenge";
      return std::nullopt;
    }
    routing::ntlm::logon who;
    if (const auto slash = o.user.find('\\'); slash != std::string::npos) {
      who.domain = o.user.substr(0, slash);
      who.user = o.user.substr(slash + 1);
    } else {
      who.user = o.user;  // user@domain (UPN) or a bare name: the domain field stays empty
    }
    who.password = o.password;
    who.workstation = "MAPIGATE-PROBE";
    routing::ntlm::bytes8 client_challenge{};
    RAND_bytes(client_challenge.data(), int(client_challenge.size()));
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const auto type3 = routing::ntlm::build_authenticate_v2(
        *fields, who, client_challenge, routing::ntlm::filetime_of_unix_us(now_us));
    if (!type3) {
      why =
          "NTLM needs MD4, from OpenSSL's legacy provider (legacy.so, Debian: libssl3), which "
          "could not be loaded";
      return std::nullopt;
    }
    req.set(http::field::authorization, scheme_ + " " + routing::base64_encode(*type3));
    auto r = p_.send(std::move(req), why, false);
    handshaken_ = r && r->result_int() != 401;
    return r;
  }

  /// The type 2 message of a 401's `WWW-Authenticate: <scheme> <token>`.
  std::optional<routing::ntlm::challenge_fields> challenge_of(const response& r) const {
    if (r.result_int() != 401) return std::nullopt;
    for (auto it = r.find(http::field::www_authenticate);
         it != r.end() && it->name() == http::field::www_authenticate; ++it) {
      const auto v = std::string_view(it->value());
      const auto space = v.find(' ');
      if (space == std::string_view::npos || !routing::iequals(v.substr(0, space), scheme_))
        continue;
      const auto raw = routing::base64_decode(routing::trim(v.substr(space + 1)));
      if (!raw) continue;
      const auto message = routing::ntlm::find_message(*raw);
      if (!message) continue;
      if (auto c = routing::ntlm::read_challenge(*message)) return c;
    }
    return std::nullopt;
  }

  prober& p_;
  std::string scheme_;
  bool handshaken_ = false;
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

/// Reads a password without echo from the terminal on stdin; nullopt when stdin is not one.
std::optional<std::string> prompt_password(const std::string& user) {
  if (::isatty(STDIN_FILENO) == 0) return std::nullopt;
  std::cerr << "Password for " << user << ": " << std::flush;
  termios before{};
  ::tcgetattr(STDIN_FILENO, &before);
  termios quiet = before;
  quiet.c_lflag &= ~tcflag_t(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string password;
  std::getline(std::cin, password);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &before);
  std::cerr << '\n';
  return password;
}

/// The password from --password-file (first line), --password-env, --password, or a prompt.
bool read_password(const po::variables_map& vm, options& o, std::string& why) {
  if (vm.count("password-file")) {
    const auto file = vm["password-file"].as<std::string>();
    std::ifstream in(file);
    if (!in || !std::getline(in, o.password)) {
      why = "--password-file: cannot read " + file;
      return false;
    }
  } else if (vm.count("password-env")) {
    const auto name = vm["password-env"].as<std::string>();
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) {
      why = "--password-env: " + name + " is not set";
      return false;
    }
    o.password = v;
  } else if (vm.count("password")) {
    o.password = vm["password"].as<std::string>();
  } else if (auto typed = prompt_password(o.user)) {
    o.password = std::move(*typed);
  } else {
    why =
        "--user needs a password: --password-file FILE, --password-env NAME, or a terminal "
        "to ask on";
    return false;
  }
  return true;
}

/// Options into `o`; false with `why` on a usage problem.
bool read_options(const po::variables_map& vm, options& o, std::string& why) {
  if (!vm.count("url")) {
    why = "a URL is needed (https://host/mapi)";
    return false;
  }
  if (!parse_url(vm["url"].as<std::string>(), o, why)) return false;
  auto get = [&](const char* name, std::string& into) {
    if (vm.count(name)) into = vm[name].as<std::string>();
  };
  get("user", o.user);
  get("mailbox", o.mailbox);
  get("user-dn", o.user_dn);
  get("ca", o.ca);
  get("connect", o.connect);
  get("auth", o.auth);
  o.insecure = vm.count("insecure") != 0;
  o.timeout = std::chrono::seconds(vm["timeout"].as<unsigned>());
  if (o.timeout.count() == 0) {
    why = "--timeout must be at least 1";
    return false;
  }
  if (o.auth != "auto" && o.auth != "ntlm" && o.auth != "negotiate" && o.auth != "basic") {
    why = "--auth must be auto, ntlm, negotiate or basic";
    return false;
  }
  const bool has_password =
      vm.count("password") || vm.count("password-file") || vm.count("password-env");
  if (o.user.empty() && has_password) {
    why = "a password without --user";
    return false;
  }
  if (!o.user.empty() && !read_password(vm, o, why)) return false;
  if (o.mailbox.empty())
    o.mailbox = o.user.find('@') != std::string::npos ? o.user : "probe@" + o.host;
  return true;
}

void print_table(const std::vector<step>& steps, std::ostream& out) {
  out << std::left << std::setw(12) << "Probe" << std::setw(26) << "Start" << std::setw(26) << "End"
      << std::setw(11) << "Latency" << std::setw(9) << "Result"
      << "Error\n";
  for (const auto& s : steps) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.end - s.start).count();
    out << std::setw(12) << s.name << std::setw(26) << accesslog::iso_utc(s.start) << std::setw(26)
        << accesslog::iso_utc(s.end) << std::setw(11) << (std::to_string(ms) + "ms") << std::setw(9)
        << (s.ok ? "Success" : "Failure") << s.error << '\n';
  }
}

/// connect, ping, disconnect as --user, on the logon's connection.
template <class Run>
void logged_on_steps(prober& p, const options& o, const std::string& scheme, Run& run) {
  logon session(p, scheme);
  const bool connected = run("connect", [&](std::string& e) {
    if (scheme.empty()) {
      e = "the 401 offers none of NTLM, Negotiate, Basic";
      return false;
    }
    const auto r = session.send(p.mapi("Connect", connect_body(o.user_dn)), e);
    if (!mapi_ok(r, e)) return false;
    e = "as " + o.user + " (" + scheme + ")";
    return true;
  });
  if (connected) {
    run("ping", [&](std::string& e) {
      const auto r = session.send(p.mapi("PING", ""), e);
      if (!r) return false;
      if (r->result_int() != 200) e = "HTTP " + std::to_string(r->result_int());
      return r->result_int() == 200;
    });
    run("disconnect", [&](std::string& e) {
      return mapi_ok(session.send(p.mapi("Disconnect", std::string(4, '\0')), e), e);
    });
  }
}

}  // namespace

po::options_description probe_options() {
  po::options_description d("probe options");
  d.add_options()                                                                             //
      ("url", po::value<std::string>()->value_name("URL"),                                    //
       "the /mapi URL, https://host[:port]/mapi (also the first argument)")                   //
      ("user", po::value<std::string>()->value_name("USER"),                                  //
       "log on as DOMAIN\\user or user@domain: adds the connect, ping and disconnect steps")  //
      ("password-file", po::value<std::string>()->value_name("FILE"),                         //
       "the password is the first line of FILE")                                              //
      ("password-env", po::value<std::string>()->value_name("NAME"),                          //
       "the password is in the environment variable NAME")                                    //
      ("password", po::value<std::string>()->value_name("PASSWORD"),                          //
       "the password itself: visible to every user of the machine (ps); for tests")           //
      ("auth", po::value<std::string>()->value_name("SCHEME")->default_value("auto"),         //
       "auto (the 401's offer: NTLM, then Negotiate, then Basic), ntlm, negotiate, basic")    //
      ("mailbox", po::value<std::string>()->value_name("ADDRESS"),                            //
       "the MailboxId to connect to [USER when it is an address, else probe@host]")           //
      ("user-dn", po::value<std::string>()->value_name("DN"),                                 //
       "the legacy Exchange DN sent in the Connect body [empty]")                             //
      ("ca", po::value<std::string>()->value_name("FILE"),                                    //
       "trust the CA certificates in FILE (PEM) instead of the system's")                     //
      ("insecure", "do not verify the server's certificate")                                  //
      ("connect", po::value<std::string>()->value_name("ADDRESS"),                            //
       "connect to ADDRESS instead of resolving the URL's host; SNI and Host stay the "       //
       "URL's (a balancer's virtual IP, one mapigate of several)")                            //
      ("timeout", po::value<unsigned>()->value_name("SECONDS")->default_value(10),            //
       "deadline of each connect, TLS handshake, request and response")                       //
      ("help,h", "show this help and exit");
  return d;
}

int probe_main(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
  options o;
  std::string why;
  if (!read_options(vm, o, why)) {
    err << "mapigate probe: " << why << "\nTry 'mapigate probe --help'.\n";
    return 2;
  }

  std::vector<step> steps;
  prober p(o);
  auto run = [&](const std::string& name, auto&& body) {
    step s{name, std::chrono::system_clock::now(), {}, false, {}};
    s.ok = body(s.error);
    s.end = std::chrono::system_clock::now();
    steps.push_back(std::move(s));
    return steps.back().ok;
  };

  run("healthcheck", [&](std::string& e) {
    const auto r = p.send(request{http::verb::get, o.path + "/healthcheck.htm", 11}, e, true);
    if (!r) return false;
    if (r->result_int() != 200) e = "HTTP " + std::to_string(r->result_int()) + ": " + r->body();
    return r->result_int() == 200;
  });
  std::vector<std::string> offered;
  run("anonymous", [&](std::string& e) {
    const auto r = p.send(p.mapi("Connect", connect_body(o.user_dn)), e, true);
    if (!r) return false;
    if (r->result_int() != 401) {
      e = "expected 401, got HTTP " + std::to_string(r->result_int());
      return false;
    }
    offered = offered_schemes(*r);
    if (offered.empty()) {
      e = "401 without WWW-Authenticate";
      return false;
    }
    e = "offers ";  // informational: shown in the table
    for (std::size_t i = 0; i < offered.size(); ++i)
      e += (i ? "," : "") + offered[i];
    return true;
  });
  if (!o.user.empty()) logged_on_steps(p, o, choose_scheme(o.auth, offered), run);
  print_table(steps, out);
  bool all = true;
  for (const auto& s : steps)
    all = all && s.ok;
  return all ? 0 : 1;
}

}  // namespace proxy
