// The request-head scanner as first written, one byte at a time: the reference the fast
// scanner (proxy/h1/head_scan.cpp) must agree with, byte for byte, in its result, length and
// reason. Used by the differential unit test and the fuzz target.
#pragma once

#include <string_view>

#include "proxy/h1/head_scan.hpp"

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
  return {head_scan::state::bad, 0, 0, why};
}

inline bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

/// The value between its leading and trailing OWS.
inline std::string_view value_of(std::string_view v) noexcept {
  std::size_t b = 0, e = v.size();
  while (b < e && is_ows(v[b]))
    ++b;
  while (e > b && is_ows(v[e - 1]))
    --e;
  return v.substr(b, e - b);
}

/// Checks the request line: method SP target SP HTTP/1.0 or HTTP/1.1.
inline head_scan check_request_line(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] != ' ') {
    if (!is_tchar(static_cast<unsigned char>(line[i]))) return bad("malformed request line");
    ++i;
  }
  if (i == 0 || i == line.size()) return bad("malformed request line");
  const std::size_t target = ++i;
  while (i < line.size() && line[i] != ' ')
    ++i;
  if (i == line.size()) return bad("request line without HTTP version (HTTP/0.9)");
  if (i == target) return bad("malformed request line");
  const auto version = line.substr(i + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad("unsupported HTTP version");
  for (std::size_t j = target; j < i; ++j) {
    const auto c = static_cast<unsigned char>(line[j]);
    if (c < 0x20 || c == 0x7f) return bad("malformed request line");
  }
  return {};
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
  const auto value = value_of(line.substr(colon + 1));
  if (iequals(name, "content-length")) {
    ++content_lengths;
    if (value.empty()) return bad("invalid Content-Length");
    for (char c : value)
      if (c < '0' || c > '9') return bad("invalid Content-Length");
  }
  if (iequals(name, "transfer-encoding")) {
    ++transfer_encodings;
    std::size_t last = value.size();
    while (last > 0 && value[last - 1] != ',')
      --last;
    if (!iequals(value_of(value.substr(last)), "chunked"))
      return bad("Transfer-Encoding whose final coding is not chunked");
  }
  return {};
}

inline head_scan scan_request_head(std::string_view buf, std::size_t limit) noexcept {
  int content_lengths = 0;
  int transfer_encodings = 0;
  bool request_line = true;
  const std::size_t end = buf.size() < limit ? buf.size() : limit;
  const std::size_t start = buf.size() >= 2 && buf[0] == '\r' && buf[1] == '\n' ? 2 : 0;
  std::size_t line_start = start;
  for (std::size_t i = start; i < end; ++i) {
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
      if (auto r = check_request_line(line); r.result == head_scan::state::bad) return r;
      request_line = false;
      continue;
    }
    if (line.empty()) {  // CRLF CRLF: end of the head
      if (content_lengths > 1) return bad("more than one Content-Length");
      if (transfer_encodings > 1) return bad("more than one Transfer-Encoding");
      if (content_lengths && transfer_encodings)
        return bad("Content-Length with Transfer-Encoding");
      return {head_scan::state::complete, i + 1, start, {}};
    }
    if (auto r = check_field(line, content_lengths, transfer_encodings);
        r.result == head_scan::state::bad)
      return r;
  }
  if (buf.size() >= limit) return {head_scan::state::too_large, 0, 0, "request head too large"};
  return {};
}

}  // namespace proxy::reference
