// gzip for admin responses: Accept-Encoding negotiation and zlib's deflate with a gzip wrapper.
#include "proxy/admin/gzip.hpp"

#include <zlib.h>

#include "routing/text.hpp"

namespace proxy {
namespace {

/// The q-value of one list member's parameters ("; q=0.5"); 1 when absent, 0 when unreadable.
double q_value(std::string_view params) {
  for (std::size_t at = 0; at < params.size();) {
    auto end = params.find(';', at);
    if (end == std::string_view::npos) end = params.size();
    const auto p = routing::trim(params.substr(at, end - at));
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      const auto v = p.substr(2);
      if (v.empty() || (v[0] != '0' && v[0] != '1')) return 0;
      if (v[0] == '1') return 1;
      for (const char c : v.substr(1))
        if (c != '.' && c != '0') return 0.5;  // some non-zero fraction
      return 0;
    }
    at = end + 1;
  }
  return 1;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  std::optional<double> gzip_q, star_q;
  for (std::size_t at = 0; at <= accept_encoding.size();) {
    auto end = accept_encoding.find(',', at);
    if (end == std::string_view::npos) end = accept_encoding.size();
    const auto member = routing::trim(accept_encoding.substr(at, end - at));
    const auto semi = member.find(';');
    const auto coding = routing::trim(member.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1 : q_value(member.substr(semi + 1));
    if (routing::iequals(coding, "gzip") || routing::iequals(coding, "x-gzip"))
      gzip_q = std::max(gzip_q.value_or(0), q);
    else if (coding == "*")
      star_q = q;
    at = end + 1;
  }
  if (gzip_q) return *gzip_q > 0;
  return star_q.value_or(0) > 0;
}

std::optional<std::string> gzip(std::string_view body) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return std::nullopt;
  std::string out(deflateBound(&z, uLong(body.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = uInt(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const auto written = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(written);
  return out;
}

}  // namespace proxy
