// Strict framing checks on a raw HTTP/1.1 request head. One pass per line: memchr finds the line
// ends and the colon, and every byte costs one table lookup (the scanner runs on every request).
#include "proxy/h1/head_scan.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#include "routing/text.hpp"

namespace proxy {
namespace {

enum : unsigned char {
  tchar = 1,  ///< may appear in a field name (RFC 9110 §5.6.2)
  ctl = 2,    ///< may not appear in a field value: controls but HT, and DEL
  raw = 4,    ///< NUL or CR: refused anywhere but as the CR of a line's CRLF
};

constexpr std::array<unsigned char, 256> make_classes() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    unsigned char k = 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) k |= tchar;
    for (const char s : std::string_view("!#$%&'*+-.^_`|~"))
      if (c == static_cast<unsigned char>(s)) k |= tchar;
    if ((c < 0x20 && c != '\t') || c == 0x7f) k |= ctl;
    if (c == '\0' || c == '\r') k |= raw;
    t[static_cast<std::size_t>(c)] = k;
  }
  return t;
}
constexpr auto classes = make_classes();

/// Whether `s` holds a byte below 0x20 or DEL, eight bytes at a time. Exact: "a byte below n"
/// and "a zero byte" word tests have no false positives for n <= 128.
bool holds_control(std::string_view s) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101, high = 0x8080808080808080;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    const std::uint64_t del = x ^ (0x7f * ones);  // a DEL byte becomes zero
    if ((((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) & high) return true;
  }
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

/// The ctl and raw classes of the bytes of `s`, or-ed.
unsigned char classes_of(std::string_view s) noexcept {
  if (!holds_control(s)) return 0;  // the usual line: no byte needs a look-up
  unsigned char acc = 0;
  for (const unsigned char c : s)
    acc |= classes[c];
  return acc;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

head_scan bad(std::string_view why) noexcept {
  return {head_scan::state::bad, 0, 0, why};
}

/// Why bytes that contain a NUL or a CR (not the CR of a CRLF) are refused: the first of them.
std::string_view raw_reason(std::string_view s) noexcept {
  for (const char c : s) {
    if (c == '\0') return "NUL in request head";
    if (c == '\r') return "bare CR in request head";
  }
  return {};
}

/// A Content-Length value is one decimal number: a list ("4, 4"), a sign or anything else is
/// refused, never forwarded (RFC 9110 §8.6).
bool plain_length(std::string_view v) noexcept {
  v = routing::trim(v);
  if (v.empty()) return false;
  for (const char c : v)
    if (c < '0' || c > '9') return false;
  return true;
}

/// Whether a Transfer-Encoding value's final coding is chunked (RFC 9112 §6.3: otherwise the
/// request's length cannot be determined, and the answer is 400 and close).
bool ends_chunked(std::string_view v) noexcept {
  const auto comma = v.rfind(',');
  return iequals(routing::trim(comma == std::string_view::npos ? v : v.substr(comma + 1)),
                 "chunked");
}

/// Checks the request line (free of NUL and bare CR): method SP request-target SP HTTP/1.x.
/// Anything else, an HTTP/0.9 line ("GET /") above all, is refused when the line ends, not
/// after header_read.
head_scan check_request_line(std::string_view line) noexcept {
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return bad("malformed request line");
  for (const unsigned char c : line.substr(0, sp1))
    if (!(classes[c] & tchar)) return bad("malformed request line");
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad("request line without HTTP version (HTTP/0.9)");
  if (sp2 == sp1 + 1) return bad("malformed request line");
  const auto version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad("unsupported HTTP version");
  if (holds_control(line.substr(sp1 + 1, sp2 - sp1 - 1))) return bad("malformed request line");
  return {};
}

/// Checks one header line (without its CRLF, free of NUL and bare CR); `found` or-s the
/// classes of its bytes.
head_scan check_field(std::string_view line, unsigned char found, int& content_lengths,
                      int& transfer_encodings) noexcept {
  if (line.front() == ' ' || line.front() == '\t') return bad("obsolete line folding");
  const void* colon_at = std::memchr(line.data(), ':', line.size());
  if (!colon_at || colon_at == line.data()) return bad("malformed header line");
  const auto name =
      line.substr(0, static_cast<std::size_t>(static_cast<const char*>(colon_at) - line.data()));
  for (const unsigned char c : name)
    if (!(classes[c] & tchar)) return bad("invalid character in header name");
  // The name is all tchar, so a control character found in the line is in the value.
  if (found & ctl) return bad("control character in header value");
  const auto value = line.substr(name.size() + 1);
  if (iequals(name, "content-length")) {
    ++content_lengths;
    if (!plain_length(value)) return bad("invalid Content-Length");
  }
  if (iequals(name, "transfer-encoding")) {
    ++transfer_encodings;
    if (!ends_chunked(value)) return bad("Transfer-Encoding whose final coding is not chunked");
  }
  return {};
}

}  // namespace

head_scan scan_request_head(std::string_view buf, std::size_t limit) noexcept {
  int content_lengths = 0;
  int transfer_encodings = 0;
  bool request_line = true;
  const std::size_t end = buf.size() < limit ? buf.size() : limit;
  // One empty line before the request line is ignored (RFC 9112 §2.2); a second is refused.
  const std::size_t start = buf.substr(0, 2) == "\r\n" ? 2 : 0;
  std::size_t pos = start;  // where the current line starts
  while (pos < end) {
    const auto* lf = static_cast<const char*>(std::memchr(buf.data() + pos, '\n', end - pos));
    if (!lf) break;
    const auto i = static_cast<std::size_t>(lf - buf.data());
    const bool crlf = i > pos && buf[i - 1] == '\r';
    const auto line = buf.substr(pos, i - pos - (crlf ? 1 : 0));
    pos = i + 1;
    const unsigned char found = classes_of(line);
    if (found & raw) return bad(raw_reason(line));
    if (!crlf) return bad("bare LF line ending");
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
      return {head_scan::state::complete, pos, start, {}};
    }
    if (auto r = check_field(line, found, content_lengths, transfer_encodings);
        r.result == head_scan::state::bad)
      return r;
  }
  // The line that has not ended yet: a NUL or a bare CR in it is refused now.
  for (std::size_t j = pos; j < end; ++j) {
    if (buf[j] == '\0') return bad("NUL in request head");
    if (buf[j] == '\r') {
      if (j + 1 >= buf.size()) break;  // the LF has not arrived yet
      if (buf[j + 1] != '\n') return bad("bare CR in request head");
    }
  }
  if (buf.size() >= limit) return {head_scan::state::too_large, 0, 0, "request head too large"};
  return {};
}

}  // namespace proxy
