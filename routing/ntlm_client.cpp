// NTLMv2 client messages and proof ([MS-NLMP] 2.2.1, 3.3.2).
#include "routing/ntlm_client.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/provider.h>

#include "routing/ntlm.hpp"
#include "routing/text.hpp"

namespace routing::ntlm {
namespace {

constexpr std::size_t authenticate_header_size = 64;
constexpr std::uint16_t av_eol = 0;
constexpr std::uint16_t av_timestamp = 7;
constexpr std::size_t blob_header_size = 28;  // 0x0101, reserved, time, client challenge, zero

/// MD4 from a library context holding only the legacy and default providers; loaded once.
class md4_source {
 public:
  md4_source() {
    ctx_ = OSSL_LIB_CTX_new();
    if (ctx_ == nullptr) return;
    legacy_ = OSSL_PROVIDER_load(ctx_, "legacy");
    base_ = OSSL_PROVIDER_load(ctx_, "default");
    if (legacy_ != nullptr) md_ = EVP_MD_fetch(ctx_, "MD4", nullptr);
  }
  ~md4_source() {
    EVP_MD_free(md_);
    if (legacy_ != nullptr) OSSL_PROVIDER_unload(legacy_);
    if (base_ != nullptr) OSSL_PROVIDER_unload(base_);
    OSSL_LIB_CTX_free(ctx_);
  }
  md4_source(const md4_source&) = delete;
  md4_source& operator=(const md4_source&) = delete;

  std::optional<bytes16> digest(std::string_view data) const {
    if (md_ == nullptr) return std::nullopt;
    bytes16 out{};
    unsigned len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md_, nullptr) != 1 ||
        len != out.size())
      return std::nullopt;
    return out;
  }

 private:
  OSSL_LIB_CTX* ctx_ = nullptr;
  OSSL_PROVIDER* legacy_ = nullptr;
  OSSL_PROVIDER* base_ = nullptr;
  EVP_MD* md_ = nullptr;
};

std::optional<bytes16> md4(std::string_view data) {
  static const md4_source source;
  return source.digest(data);
}

bytes16 hmac_md5(const bytes16& key, std::string_view data) {
  bytes16 out{};
  unsigned len = 0;
  HMAC(EVP_md5(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string_view view(const bytes16& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
std::string_view view(const bytes8& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string le64(std::uint64_t v) {
  std::string out(8, '\0');
  put_u32(out, 0, std::uint32_t(v));
  put_u32(out, 4, std::uint32_t(v >> 32));
  return out;
}

/// The NTLMv2 client blob ("temp" in [MS-NLMP] 3.3.2).
std::string blob(std::uint64_t time, const bytes8& client_challenge, std::string_view info) {
  std::string b("\x01\x01\0\0\0\0\0\0", 8);
  b += le64(time);
  b += view(client_challenge);
  b.append(4, '\0');
  b += info;
  b.append(4, '\0');
  return b;
}

}  // namespace

void put_u16(std::string& out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<char>(v & 0xff);
  out[at + 1] = static_cast<char>(v >> 8);
}

void put_u32(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

void append_buffer(std::string& out, std::size_t at, std::string_view payload) {
  put_u16(out, at, static_cast<std::uint16_t>(payload.size()));
  put_u16(out, at + 2, static_cast<std::uint16_t>(payload.size()));
  put_u32(out, at + 4, static_cast<std::uint32_t>(out.size()));
  out.append(payload);
}

std::string build_negotiate() {
  const std::uint32_t flags = negotiate_unicode | negotiate_oem | request_target | negotiate_ntlm |
                              negotiate_always_sign | negotiate_extended_session_security |
                              negotiate_version | negotiate_128 | negotiate_56;
  std::string out(40, '\0');
  out.replace(0, 8, signature);
  put_u32(out, 8, 1);
  put_u32(out, 12, flags);
  // Domain @16 and Workstation @24 stay empty (offset = header size).
  put_u32(out, 20, 40);
  put_u32(out, 28, 40);
  out[32] = 10;  // Version: 10.0 build 17763, NTLM revision 15
  put_u16(out, 34, 17763);
  out[39] = 15;
  return out;
}

std::optional<challenge_fields> read_challenge(std::string_view raw) {
  if (raw.size() < 48 || message_type(raw) != 2u) return std::nullopt;
  const auto info = security_buffer(raw, 40);
  if (!info || !security_buffer(raw, 12)) return std::nullopt;
  challenge_fields c;
  c.flags = read_u32(raw, 20);
  for (std::size_t i = 0; i < 8; ++i)
    c.server_challenge[i] = std::uint8_t(raw[24 + i]);
  for (std::size_t at = 0;;) {
    if (at + 4 > info->size()) return std::nullopt;  // no MsvAvEOL
    const auto id = read_u16(*info, at);
    const auto len = read_u16(*info, at + 2);
    if (at + 4 + len > info->size()) return std::nullopt;
    if (id == av_eol) break;
    if (id == av_timestamp && len == 8)
      c.timestamp = std::uint64_t(read_u32(*info, at + 4)) | std::uint64_t(read_u32(*info, at + 8))
                                                                 << 32;
    at += 4 + len;
  }
  c.target_info = std::string(*info);
  return c;
}

std::optional<bytes16> nt_owf_v2(std::string_view user, std::string_view domain,
                                 std::string_view password) {
  const auto nt_hash = md4(utf8_to_utf16le(password));
  if (!nt_hash) return std::nullopt;
  return hmac_md5(*nt_hash, utf8_to_utf16le(to_upper(user) + std::string(domain)));
}

std::optional<std::string> build_authenticate_v2(const challenge_fields& challenge,
                                                 const logon& who, const bytes8& client_challenge,
                                                 std::uint64_t now_filetime) {
  const auto key = nt_owf_v2(who.user, who.domain, who.password);
  if (!key) return std::nullopt;
  const auto sc = view(challenge.server_challenge);
  const auto temp =
      blob(challenge.timestamp.value_or(now_filetime), client_challenge, challenge.target_info);
  const auto proof = hmac_md5(*key, std::string(sc) + temp);
  std::string lm(24, '\0');
  if (!challenge.timestamp) {
    lm = std::string(view(hmac_md5(*key, std::string(sc) + std::string(view(client_challenge)))));
    lm += view(client_challenge);
  }
  const std::uint32_t flags = negotiate_unicode | request_target | negotiate_ntlm |
                              negotiate_always_sign | negotiate_extended_session_security |
                              negotiate_target_info | negotiate_128 | negotiate_56;
  std::string out(authenticate_header_size, '\0');
  out.replace(0, 8, signature);
  put_u32(out, 8, 3);
  put_u32(out, 60, flags);
  append_buffer(out, 28, utf8_to_utf16le(who.domain));
  append_buffer(out, 36, utf8_to_utf16le(who.user));
  append_buffer(out, 44, utf8_to_utf16le(who.workstation));
  append_buffer(out, 12, lm);
  append_buffer(out, 20, std::string(view(proof)) + temp);
  append_buffer(out, 52, {});  // EncryptedRandomSessionKey: no key exchange
  return out;
}

bool verify_v2(std::string_view raw, const bytes8& server_challenge, std::string_view password) {
  const auto msg = parse_authenticate(raw);
  const auto nt = security_buffer(raw, 20);
  if (!msg || !nt || nt->size() < 16 + blob_header_size) return false;
  const auto key = nt_owf_v2(msg->user, msg->domain, password);
  if (!key) return false;
  const auto proof =
      hmac_md5(*key, std::string(view(server_challenge)) + std::string(nt->substr(16)));
  return CRYPTO_memcmp(proof.data(), nt->data(), proof.size()) == 0;
}

std::uint64_t filetime_of_unix_us(std::int64_t unix_us) {
  return std::uint64_t(unix_us) * 10u + 116444736000000000ull;
}

}  // namespace routing::ntlm
