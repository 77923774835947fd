// Signed affinity tokens: base64url (routing/base64), HMAC-SHA256 and the strict verification
// order.
#include "routing/affinity.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>

#include "routing/base64.hpp"
#include "routing/text.hpp"

namespace routing {
namespace {

constexpr std::size_t max_token_bytes = 1024;
constexpr std::size_t mac_bytes = 32;
constexpr std::int64_t max_future_seconds = 300;
constexpr std::size_t field_count = 5;
std::string mac_of(std::string_view secret, std::string_view payload) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), int(secret.size()),
           reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), md.data(),
           &length) == nullptr ||
      length != mac_bytes) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(md.data()), length);
}

std::string key_id_of(std::string_view secret) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest.data());
  constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < 4; ++i) {
    id += hex[digest[i] >> 4];
    id += hex[digest[i] & 15];
  }
  return id;
}

bool valid_backend_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return ascii_alnum(c) || c == '.' || c == '_' || c == '-';
  });
}

// Decimal digits only (at least one); saturates at INT64_MAX, which is "far in the future".
bool parse_issued(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  std::int64_t value = 0;
  for (const char c : text) {
    if (!ascii_digit(c)) return false;
    const int digit = c - '0';
    value = value > (max - digit) / 10 ? max : value * 10 + digit;
  }
  out = value;
  return true;
}

// |a - b| without overflow for any two int64 values.
std::uint64_t distance(std::int64_t a, std::int64_t b) {
  return a >= b ? std::uint64_t(a) - std::uint64_t(b) : std::uint64_t(b) - std::uint64_t(a);
}

}  // namespace

std::string_view to_string(token_verdict v) noexcept {
  switch (v) {
    case token_verdict::valid:
      return "valid";
    case token_verdict::malformed:
      return "malformed";
    case token_verdict::unknown_key:
      return "unknown_key";
    case token_verdict::bad_signature:
      return "bad_signature";
    case token_verdict::expired:
      return "expired";
    case token_verdict::wrong_mailbox:
      return "wrong_mailbox";
  }
  return "malformed";
}

affinity_codec::affinity_codec(std::vector<std::string> keys, std::chrono::seconds max_age)
    : max_age_(max_age.count()) {
  if (keys.empty()) throw std::invalid_argument("affinity_codec: no keys");
  if (max_age_ < 0) throw std::invalid_argument("affinity_codec: negative max_age");
  for (auto& secret : keys) {
    std::string id = key_id_of(secret);
    keys_.push_back(key{std::move(secret), std::move(id)});
  }
}

std::string affinity_codec::issue(std::string_view backend, std::string_view mailbox,
                                  std::int64_t now_unix) const {
  const key& signer = keys_.front();
  std::string payload = "1\n" + signer.id + "\n" + std::to_string(now_unix) + "\n";
  payload.append(backend);
  payload += '\n';
  payload.append(mailbox);
  return base64url_encode(payload) + "." + base64url_encode(mac_of(signer.secret, payload));
}

token_verdict affinity_codec::verify(std::string_view token, std::string_view mailbox,
                                     std::int64_t now_unix, std::string& backend,
                                     std::int64_t* issued_at) const {
  backend.clear();
  // Structure and decoding: nothing here depends on a secret.
  if (token.size() > max_token_bytes) return token_verdict::malformed;
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return token_verdict::malformed;
  const auto payload = base64url_decode(token.substr(0, dot));
  const auto mac = base64url_decode(token.substr(dot + 1));
  if (!payload || !mac || mac->size() != mac_bytes) return token_verdict::malformed;
  std::array<std::string_view, field_count> field;
  std::size_t count = 0;
  std::string_view rest = *payload;
  while (true) {
    const auto lf = rest.find('\n');
    if (count == field_count) return token_verdict::malformed;
    field[count++] = rest.substr(0, lf);
    if (lf == std::string_view::npos) break;
    rest.remove_prefix(lf + 1);
  }
  if (count != field_count || field[0] != "1") return token_verdict::malformed;

  // Key, then MAC. Key ids are 32 bits, so two keys may share one: any of them may verify.
  bool known = false;
  bool authentic = false;
  for (const auto& k : keys_) {
    if (k.id != field[1]) continue;
    known = true;
    const std::string expected = mac_of(k.secret, *payload);
    if (CRYPTO_memcmp(expected.data(), mac->data(), mac_bytes) == 0) {
      authentic = true;
      break;
    }
  }
  if (!known) return token_verdict::unknown_key;
  if (!authentic) return token_verdict::bad_signature;

  // Fields of an authentic token: malformed ones first, then time, then the mailbox.
  std::int64_t issued = 0;
  if (!parse_issued(field[2], issued) || !valid_backend_name(field[3])) {
    return token_verdict::malformed;
  }
  const std::uint64_t skew = distance(issued, now_unix);
  if (issued > now_unix ? skew > std::uint64_t(max_future_seconds)
                        : skew > std::uint64_t(max_age_)) {
    return token_verdict::expired;
  }
  if (field[4] != mailbox) return token_verdict::wrong_mailbox;
  backend = std::string(field[3]);
  if (issued_at) *issued_at = issued;
  return token_verdict::valid;
}

}  // namespace routing
