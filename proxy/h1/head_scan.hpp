// Strict framing checks on a raw HTTP/1.1 request head, before Beast parses it. Pure: no I/O.
//
// Beast's parser already refuses Content-Length with Transfer-Encoding, differing
// Content-Lengths, bad chunk sizes and bare LF; it silently unfolds obs-fold lines, accepts a
// repeated identical Content-Length (as two lines or as a list), and takes a Transfer-Encoding
// whose final coding is not chunked as "no body". A proxy must refuse all of these (RFC 9112
// §5.2, §6.1, §6.3; RFC 9110 §8.6): the backend might frame the message differently, and an
// unframed body would be read as the next request. This scanner finds the end of the head and
// refuses anything that is not plain CRLF-framed, unfolded, single-length HTTP/1.x with a
// request line of three parts (an HTTP/0.9 line is refused as soon as it ends).
#pragma once

#include <cstddef>
#include <string_view>

namespace proxy {

struct head_scan {
  enum class state { need_more, complete, too_large, bad };
  state result = state::need_more;
  std::size_t length = 0;   ///< complete: bytes of the head including the final CRLFCRLF
  std::size_t start = 0;    ///< complete: where the request line starts (after an empty line
                            ///< ignored before it, RFC 9112 §2.2: at most one)
  std::string_view reason;  ///< bad / too_large: static text for the log and the error body
};

/// Scans `buf` (the bytes received so far, starting at the request line). `limit` caps the head
/// size: a head that is not complete within `limit` bytes is too_large. Never reads past `buf`.
head_scan scan_request_head(std::string_view buf, std::size_t limit) noexcept;

}  // namespace proxy
