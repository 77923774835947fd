// How a request body travels from mapigate to a backend. Pure and Asio-free: the codecs decide
// it, the one refusal rule (pipeline) and the one head writer (wire) enforce it.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace proxy {

/// What a request's codec knows of its body, from the message itself and never from how its
/// bytes were split across reads: HTTP/1.1 from the parsed framing fields, HTTP/2 from
/// END_STREAM on HEADERS (there: no body; otherwise a body, even an empty one) and the
/// content-length field, whose value nghttp2 holds the DATA frames to.
struct body_framing {
  enum class kind {
    none,     ///< no body
    length,   ///< exactly `length` bytes follow the head
    unknown,  ///< a body whose length is not declared (HTTP/2 DATA without content-length,
              ///< HTTP/1.1 chunked): never relayed bare, always refused (411)
  };
  kind k = kind::none;
  std::uint64_t length = 0;  ///< kind::length only

  static constexpr body_framing no_body() noexcept { return {}; }
  static constexpr body_framing of_length(std::uint64_t n) noexcept { return {kind::length, n}; }
  static constexpr body_framing undeclared() noexcept { return {kind::unknown, 0}; }
  constexpr bool operator==(const body_framing&) const = default;
};

/// A Content-Length value as one plain decimal number (no sign, no spaces, no list); nullopt
/// when it is not one, or does not fit 64 bits.
inline std::optional<std::uint64_t> parse_content_length(std::string_view v) noexcept {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

/// An HTTP/2 request's body as its HEADERS frame declares it, whatever follows and however the
/// frames were split: END_STREAM there means none; otherwise a body of the content-length
/// field's value, or one of unknown length without that field. Nullopt: a content-length that
/// is not one decimal number (answered 400).
inline std::optional<body_framing> h2_body_framing(
    bool end_stream, std::optional<std::string_view> content_length) noexcept {
  std::optional<std::uint64_t> n;
  if (content_length && !(n = parse_content_length(*content_length))) return std::nullopt;
  if (end_stream) return body_framing::no_body();
  return n ? body_framing::of_length(*n) : body_framing::undeclared();
}

}  // namespace proxy
