// TLS policy strings of a listener (ciphers, ciphersuites, curves) checked against the linked
// libssl, so that `mapigate check` reports a typo with its file:line:col instead of the listener
// failing to start (or, worse, OpenSSL silently ignoring the entry).
//
// The only OpenSSL use in config/: a throw-away SSL_CTX parses the strings in memory. No files,
// no sockets, no dependency on tls/ (which applies the same strings to its contexts).
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/detail.hpp"

namespace config::detail {

namespace {

struct ctx_deleter {
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_deleter>;

// A context to try strings on; the calling thread's error queue is left empty either way.
ctx_ptr scratch_context() {
  ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  ERR_clear_error();
  return ctx;
}

// RFC 8446 suite names, which OpenSSL spells the same way (and case-sensitively).
constexpr std::string_view tls13_suites[] = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",   "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
};

bool is_tls13_suite(std::string_view name) {
  return std::find(std::begin(tls13_suites), std::end(tls13_suites), name) !=
         std::end(tls13_suites);
}

// Entries of an OpenSSL list: separated by any of `seps`, empty ones kept (so they can be
// reported where an empty entry is a mistake).
std::vector<std::string_view> split(std::string_view s, std::string_view seps) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || seps.find(s[i]) != std::string_view::npos) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool selects_tls12_cipher(SSL_CTX* ctx, const std::string& list) {
  const bool ok = SSL_CTX_set_cipher_list(ctx, list.c_str()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

std::vector<std::string> check_cipher_list(std::string_view list) {
  const auto ctx = scratch_context();
  if (!ctx) return {"cannot check the cipher list: OpenSSL cannot create a context"};
  std::vector<std::string> problems;
  // OpenSSL skips an entry that selects nothing, so one typo among good names would silently
  // drop that cipher: each entry that adds ciphers must select some on its own. Entries that
  // remove (!, -) or reorder (+) ciphers, and @ commands, need not match anything.
  for (const auto entry : split(list, ": ,;")) {
    if (entry.empty() || entry.front() == '!' || entry.front() == '-' || entry.front() == '+' ||
        entry.front() == '@')
      continue;
    const std::string name(entry.substr(0, entry.find('@')));  // "DEFAULT@SECLEVEL=2"
    if (selects_tls12_cipher(ctx.get(), name)) continue;
    if (is_tls13_suite(name)) {
      problems.push_back(quote(name) + " is a TLS 1.3 suite (set it in tls.ciphersuites)");
    } else {
      problems.push_back(quote(name) +
                         " selects no TLS 1.2 cipher (not a cipher name or alias that this "
                         "OpenSSL offers)");
    }
  }
  if (problems.empty() && !selects_tls12_cipher(ctx.get(), std::string(list)))
    problems.push_back(quote(list) + " selects no TLS 1.2 cipher");
  return problems;
}

std::vector<std::string> check_ciphersuites(std::string_view list) {
  const auto ctx = scratch_context();
  if (!ctx) return {"cannot check the suites: OpenSSL cannot create a context"};
  std::vector<std::string> problems;
  std::vector<std::string_view> seen;
  for (const auto entry : split(list, ":")) {
    const std::string name(entry);
    if (name.empty()) {
      problems.push_back("empty entry in " + quote(list));
    } else if (std::find(seen.begin(), seen.end(), entry) != seen.end()) {
      problems.push_back("duplicate TLS 1.3 suite " + quote(name));
    } else if (SSL_CTX_set_ciphersuites(ctx.get(), name.c_str()) != 1) {
      // OpenSSL ignores an unknown name inside a longer list: hence one name at a time.
      problems.push_back(selects_tls12_cipher(ctx.get(), name)
                             ? quote(name) + " is a TLS 1.2 cipher (set it in tls.ciphers)"
                             : "unknown TLS 1.3 suite " + quote(name) +
                                   " (expected TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
                                   "TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_CCM_SHA256 or "
                                   "TLS_AES_128_CCM_8_SHA256)");
    }
    ERR_clear_error();
    seen.push_back(entry);
  }
  return problems;
}

std::string check_group(std::string_view name) {
  if (name.find_first_of(":,; ") != std::string_view::npos)
    return "one group per entry, got " + quote(name) + " (write a YAML sequence)";
  const auto ctx = scratch_context();
  if (!ctx) return "cannot check the group: OpenSSL cannot create a context";
  const bool ok = SSL_CTX_set1_groups_list(ctx.get(), std::string(name).c_str()) == 1;
  ERR_clear_error();
  if (ok) return {};
  return "unknown group " + quote(name) + " (e.g. X25519, prime256v1, secp384r1, ffdhe2048)";
}

std::string check_groups(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names)
    list += (list.empty() ? "" : ":") + n;
  const auto ctx = scratch_context();
  if (!ctx) return "cannot check the groups: OpenSSL cannot create a context";
  const bool ok = SSL_CTX_set1_groups_list(ctx.get(), list.c_str()) == 1;
  ERR_clear_error();
  // Each name was accepted alone: what is left is two names for one group (P-256, prime256v1).
  if (ok) return {};
  return "OpenSSL rejects the groups " + quote(list) + " (the same group named twice?)";
}

}  // namespace config::detail
