// The request-head scanner as first written, one byte at a time: the reference the fast
// scanner (proxy/h1_head.cpp) must agree with, byte for byte, in its result, length and reason.
// Used by the differential unit test and the fuzz target.
#pragma once

#include <string_view>

#include "proxy/h1_head.hpp"

namespace proxy::reference {

constexpr bool is_tchar(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

inline head_scan bad(std::string_view why) noexcept {
  return {head_scan::state::bad, 0, why};
}

/// Checks one header line (without its CRLF).
inline head_scan check_field(std::string_view line, int& content_lengths, int& transfer_encodings) {
  if (line.front() == ' ' || line.front() == '\t') return bad("obsolete line folding");
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return bad("malformed header line");
  const auto name = line.substr(0, colon);
  for (unsigned char c : name)
    if (!is_tchar(c)) return bad("invalid character in header name");
  for (unsigned char c : line.substr(colon + 1))
    if ((c < 0x20 && c != '\t') || c == 0x7f) return bad("control character in header value");
  if (iequals(name, "content-length")) ++content_lengths;
  if (iequals(name, "transfer-encoding")) ++transfer_encodings;
  return {};
}

inline head_scan scan_request_head(std::string_view buf, std::size_t limit) noexcept {
  int content_lengths = 0;
  int transfer_encodings = 0;
  std::size_t line_start = 0;
  bool request_line = true;
  const std::size_t end = buf.size() < limit ? buf.size() : limit;
  for (std::size_t i = 0; i < end; ++i) {
    const char c = buf[i];
    if (c == '\r') {
      if (i + 1 >= buf.size()) break;  // the LF has not arrived yet
      if (buf[i + 1] != '\n') return bad("bare CR in request head");
      continue;
    }
    if (c == '\0') return bad("NUL in request head");
    if (c != '\n') continue;
    if (i == 0 || buf[i - 1] != '\r') return bad("bare LF line ending");
    const auto line = buf.substr(line_start, i - 1 - line_start);
    line_start = i + 1;
    if (request_line) {
      if (line.empty()) return bad("empty request line");
      request_line = false;
      continue;
    }
    if (line.empty()) {  // CRLF CRLF: end of the head
      if (content_lengths > 1) return bad("more than one Content-Length");
      if (content_lengths && transfer_encodings)
        return bad("Content-Length with Transfer-Encoding");
      return {head_scan::state::complete, i + 1, {}};
    }
    if (auto r = check_field(line, content_lengths, transfer_encodings);
        r.result == head_scan::state::bad)
      return r;
  }
  if (buf.size() >= limit) return {head_scan::state::too_large, 0, "request head too large"};
  return {};
}

}  // namespace proxy::reference
