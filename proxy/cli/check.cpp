// `mapigate check`: syntax, certificates, names, expiry, backend certificates.
#include "proxy/cli/check.hpp"

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <ostream>
#include <set>

#include "accesslog/format.hpp"
#include "config/advice.hpp"
#include "config/loader.hpp"
#include "proxy/state/runtime.hpp"
#include "proxy/upstream/pool.hpp"
#include "tls/cert_selector.hpp"
#include "tls/server_context.hpp"

namespace proxy {
namespace {

constexpr std::int64_t warn_days = 30;

struct report {
  std::ostream& out;
  const std::string& file;
  int errors = 0;
  int warnings = 0;
  void error(const std::string& m) {
    ++errors;
    out << file << ": error: " << m << '\n';
  }
  void warning(const std::string& m) {
    ++warnings;
    out << file << ": warning: " << m << '\n';
  }
  /// The same, at the configuration's `cert:` line of `c`.
  void error(const config::certificate& c, const std::string& m) {
    ++errors;
    out << at(c) << ": error: " << m << '\n';
  }
  void warning(const config::certificate& c, const std::string& m) {
    ++warnings;
    out << at(c) << ": warning: " << m << '\n';
  }
  std::string at(const config::certificate& c) const {
    if (c.line <= 0) return file;
    return file + ":" + std::to_string(c.line) + ":" + std::to_string(c.col);
  }
};

/// The leaf certificate backend `b` presents, as SHA-256, or "" with `why` set; `tls_failed`:
/// the TCP connection stood but TLS did not (verification, above all).
std::string backend_certificate(const runtime& rt, std::size_t b, std::string& why,
                                bool& tls_failed) {
  net::io_context ioc;
  std::string digest;
  net::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        error_code ec;
        auto c = co_await connect_upstream(rt, b, ec);
        if (!c) {
          why = ec.message();
          tls_failed = ec.category() == net::error::get_ssl_category();
          co_return;
        }
        if (auto* tls = std::get_if<tls_conn>(&c->stream)) {
          if (X509* peer = SSL_get1_peer_certificate(tls->native_handle())) {
            digest = tls::certificate_sha256(peer);
            X509_free(peer);
          }
        }
        c->abort();
      },
      net::detached);
  ioc.run();  // bounded: connect_upstream has the upstream_connect deadline
  return digest;
}

/// Whether `path` exists and other users (not owner, not group) may read or write it.
bool readable_by_others(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0;
}

}  // namespace

int check_config(const std::string& file, bool strict, bool connect_backends, std::ostream& out) {
  report rep{out, file};
  auto loaded = config::load_file(file);
  for (const auto& d : loaded.diagnostics)
    out << d.to_string() << '\n';
  if (!loaded) {
    out << file << ": " << loaded.diagnostics.size() << " error(s)\n";
    return 1;
  }
  const auto& cfg = *loaded.config;
  std::unique_ptr<runtime> rt;
  try {
    metrics::registry scratch({});
    rt = std::make_unique<runtime>(loaded.config, scratch);  // certificates, keys, CAs
    rt->metrics.reset();  // the scratch registry goes out of scope here
  } catch (const std::exception& e) {
    // A certificate or key the TLS context refused: at its `cert:` line when the message names
    // one of its files.
    const config::certificate* named = nullptr;
    const std::string_view what = e.what();
    for (const auto& l : cfg.listeners) {
      if (!l.tls) continue;
      for (const auto& c : l.tls->certificates)
        if (!named && (what.find(c.cert_file) != std::string_view::npos ||
                       what.find(c.key_file) != std::string_view::npos))
          named = &c;
    }
    if (named)
      rep.error(*named, e.what());
    else
      rep.error(e.what());
    out << file << ": 1 error(s)\n";
    return 1;
  }

  std::vector<std::string> hosts;
  for (const auto* u : {&cfg.mapi.internal_url, &cfg.mapi.external_url})
    if (*u) hosts.push_back((*u)->host);
  // Autodiscover's own names (namespaces:) need the certificate as much as the MAPI hosts.
  for (const auto* aliases : {&cfg.mapi.internal_aliases, &cfg.mapi.external_aliases})
    hosts.insert(hosts.end(), aliases->begin(), aliases->end());
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<std::string> front_digests;
  std::set<std::string> covered_hosts;
  std::size_t tls_listeners = 0;
  for (const auto& l : cfg.listeners) {
    if (!l.tls) continue;
    ++tls_listeners;
    for (const auto& c : l.tls->certificates) {
      try {
        front_digests.push_back(tls::certificate_sha256(c.cert_file));
        const auto not_after = tls::certificate_not_after(c.cert_file);
        const auto not_before = tls::certificate_not_before(c.cert_file);
        const auto left = (not_after - now) / 86400;
        if (not_after <= now)
          rep.error(c, "certificate " + c.cert_file + " has expired (" +
                           accesslog::iso_utc_unix(not_after) + ")");
        else if (not_before > now)
          rep.error(c, "certificate " + c.cert_file + " is not valid before " +
                           accesslog::iso_utc_unix(not_before) +
                           ": clients would refuse it until then");
        else if (left < warn_days)
          rep.warning(c, "certificate " + c.cert_file + " expires in " + std::to_string(left) +
                             " day(s), on " + accesslog::iso_utc_unix(not_after));
      } catch (const std::exception& e) {
        rep.error(c, e.what());
      }
    }
    // A listener per namespace (internal and external addresses) is a normal layout: only a
    // listener whose certificates cover none of the namespace hosts is worth a warning.
    std::size_t covers = 0;
    for (const auto& h : hosts) {
      bool covered = false;
      for (const auto& c : l.tls->certificates) {
        try {
          covered = covered || tls::certificate_covers(c.cert_file, h);
        } catch (const std::exception&) {  // reported above
        }
      }
      if (covered) {
        ++covers;
        covered_hosts.insert(h);
      }
    }
    if (covers == 0 && !hosts.empty())
      rep.warning("listener " + l.name + ": no certificate covers a namespace host");
  }
  for (const auto& h : hosts)
    if (tls_listeners > 0 && covered_hosts.count(h) == 0)
      rep.error("no TLS listener has a certificate covering " + h +
                " (Outlook would show a certificate warning for that namespace)");
  for (const auto& w : config::unsafe_values(cfg))
    rep.warning(w);
  if (cfg.affinity)
    for (const auto& f : cfg.affinity->key_files)
      if (readable_by_others(f))
        rep.warning("affinity key file " + f +
                    " can be read by other users: whoever reads it can forge affinity cookies "
                    "(chmod 600, or 640 for the service's group)");
  for (std::size_t b = 0; b < cfg.backends.size(); ++b) {
    const auto& be = cfg.backends[b];
    if (!connect_backends || !be.tls || front_digests.empty()) continue;
    std::string why;
    bool tls_failed = false;
    const auto digest = backend_certificate(*rt, b, why, tls_failed);
    if (digest.empty() && tls_failed) {
      // Reachable, but its certificate does not verify: mapigate would refuse every request.
      rep.error("backend " + be.name + ": TLS failed (" + why + ")");
    } else if (digest.empty()) {
      rep.warning("backend " + be.name + ": could not compare certificates (" + why + ")");
    } else if (std::find(front_digests.begin(), front_digests.end(), digest) ==
               front_digests.end()) {
      rep.warning("backend " + be.name +
                  " presents a certificate other than the front one: with Extended Protection "
                  "on the backend, NTLM through mapigate fails (use the same certificate, or "
                  "turn Extended Protection off for /mapi)");
    }
  }
  if (rep.errors > 0) {
    out << file << ": " << rep.errors << " error(s), " << rep.warnings << " warning(s)\n";
    return 1;
  }
  out << file << ": configuration OK";
  if (rep.warnings) out << " (" << rep.warnings << " warning(s))";
  out << '\n';
  return strict && rep.warnings ? 1 : 0;
}

}  // namespace proxy
