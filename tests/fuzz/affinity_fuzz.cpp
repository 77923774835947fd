// Fuzz target: affinity token verification never crashes; a token it calls valid carries a
// backend name and verifies identically again; issue → verify round-trips any fields.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "routing/affinity.hpp"

namespace {

constexpr std::int64_t now = 1'700'000'060;  // the seeds are issued at 1700000000
const std::string_view mailbox = "u@corp.test";

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// [A-Za-z0-9._-]*: both the backend-name rule and the token's character set.
bool only_name_chars(std::string_view s) {
  for (const char c : s) {
    if (!name_char(c)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace std::chrono_literals;
  // Key of the pinned known-answer test (the seeds verify with it) and a second, rotated key.
  static const routing::affinity_codec codec(
      {"0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"}, 12h);
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // The input as a token.
  std::string backend = "stale";
  const auto verdict = codec.verify(in, mailbox, now, backend);
  if (verdict == routing::token_verdict::valid) {
    if (backend.empty() || !only_name_chars(backend) || in.size() > 1024) std::abort();
    std::string again;
    if (codec.verify(in, mailbox, now, again) != verdict || again != backend) std::abort();
  } else if (!backend.empty()) {
    std::abort();
  }

  // The input as fields: "<backend>\n<mailbox>". A token is cookie-safe whatever it carries,
  // and verifies exactly when the fields are acceptable.
  const auto lf = in.find('\n');
  const auto name = in.substr(0, lf);
  const auto box = lf == std::string_view::npos ? std::string_view() : in.substr(lf + 1);
  const auto token = codec.issue(name, box, now);
  if (!only_name_chars(token) || token.find('.') == std::string::npos) std::abort();
  const bool acceptable = !name.empty() && only_name_chars(name) && token.size() <= 1024 &&
                          box.find('\n') == std::string_view::npos;
  const auto round_trip = codec.verify(token, box, now, backend);
  if ((round_trip == routing::token_verdict::valid) != acceptable) std::abort();
  if (acceptable && backend != name) std::abort();
  return 0;
}
