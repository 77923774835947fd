// Strict framing checks on a raw HTTP/1.1 request head, before Beast parses it. Pure: no I/O.
//
// Beast's parser already refuses Content-Length with Transfer-Encoding, differing
// Content-Lengths, bad chunk sizes and bare LF; it silently unfolds obs-fold lines and accepts a
// repeated identical Content-Length. A proxy must refuse both (RFC 9112 §5.2, §6.3): the
// backend might frame the message differently. This scanner finds the end of the head and
// refuses anything that is not plain CRLF-framed, unfolded, single-length HTTP/1.1.
#pragma once

#include <cstddef>
#include <string_view>

namespace proxy {

struct head_scan {
  enum class state { need_more, complete, too_large, bad };
  state result = state::need_more;
  std::size_t length = 0;   ///< complete: bytes of the head including the final CRLFCRLF
  std::string_view reason;  ///< bad / too_large: static text for the log and the error body
};

/// Scans `buf` (the bytes received so far, starting at the request line). `limit` caps the head
/// size: a head that is not complete within `limit` bytes is too_large. Never reads past `buf`.
head_scan scan_request_head(std::string_view buf, std::size_t limit) noexcept;

}  // namespace proxy
