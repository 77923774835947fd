// Pure formatting of Exchange-style HttpProxy log files: column names, header block, one line.
//
// Every value is one RFC 4180 CSV field: quoted, with '"' doubled, when it holds ',' or '"'
// (Import-Csv and Log Parser read quoted fields); control characters (CR, LF, TAB, ..., DEL)
// become ' ', so no value can end a line. GenericInfo keys/values and ClientRequestId parts
// additionally turn ';' (and '=' in GenericInfo) into ' ', their own separators. A line
// therefore always reads as exactly 74 fields and ends at its one CRLF, whatever the client
// sent. All functions are thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "accesslog/record.hpp"

namespace accesslog {

inline constexpr std::size_t field_count = 74;

/// The #Fields of Exchange 15.01.2375.007 HttpProxy logs, in order.
const std::array<std::string_view, field_count>& field_names();

/// Index of `name` in field_names(); field_count if absent.
std::size_t field_index(std::string_view name);

/// "yyyy-MM-ddTHH:mm:ss.fffZ" (UTC, milliseconds truncated).
std::string iso_utc(std::chrono::system_clock::time_point t);

/// iso_utc of Unix seconds `unix_seconds` (certificate dates, cookie expiry).
inline std::string iso_utc_unix(std::int64_t unix_seconds) {
  return iso_utc(std::chrono::system_clock::from_time_t(std::time_t(unix_seconds)));
}
/// "YYYYMMDDHH" (UTC), the hour part of HttpProxy_YYYYMMDDHH-N.LOG.
std::string hour_stamp(std::chrono::system_clock::time_point t);

/// "15.01.2375.007" layout: major 2 digits, minor 2, build 4, revision 3 (zero-padded).
std::string version_string(const version_numbers& v);

/// The 6 header lines, each CRLF-terminated: the bare CSV header (the 74 names, as Exchange
/// writes it first, for Windows PowerShell 5.1's Import-Csv), then #Software, #Version,
/// #Log-type, #Date, #Fields.
std::string header_block(std::chrono::system_clock::time_point file_opened,
                         std::string_view version);

/// `#Dropped: <n> records` CRLF: written before the next record after the queue overflowed.
std::string dropped_line(std::uint64_t n);

/// One CSV line: exactly 74 RFC 4180 fields, CRLF-terminated, values sanitised.
std::string format_line(const record& r, const version_numbers& v);

/// The Protocol column (and log folder) for a request path, by its first segment as Exchange's
/// front end names its vdirs: /mapi → "Mapi", /autodiscover → "Autodiscover", /ews → "Ews",
/// /rpc → "RpcHttp", /owa → "Owa", /ecp → "Ecp", /oab → "Oab", /microsoft-server-activesync
/// → "Eas", /powershell → "PowerShell" (ASCII case-insensitive); anything else "Unknown".
std::string_view protocol_for_path(std::string_view path) noexcept;

/// A random (version 4) GUID, lowercase 8-4-4-4-12. Uses a per-thread mt19937_64 seeded from
/// std::random_device.
std::string new_request_id();

}  // namespace accesslog
