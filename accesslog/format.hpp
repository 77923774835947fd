// Pure formatting of Exchange-style HttpProxy log files: column names, header block, one line.
//
// Exchange does not quote CSV values; it sanitises them. format_line does the same: in every
// value ',' and control characters (CR, LF, TAB, ..., DEL) become ' ', and '"' becomes '\'' so
// that Import-Csv never enters quoted-field mode (a value starting with '"' would otherwise
// swallow the following lines). GenericInfo keys/values and ClientRequestId parts additionally
// turn ';' (and '=' in GenericInfo) into ' '. A line therefore always has exactly 74 fields and
// exactly one CRLF, whatever the client sent. All functions are thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
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

/// "YYYYMMDDHH" (UTC), the hour part of HttpProxy_YYYYMMDDHH-N.LOG.
std::string hour_stamp(std::chrono::system_clock::time_point t);

/// "15.01.2375.007" layout: major 2 digits, minor 2, build 4, revision 3 (zero-padded).
std::string version_string(const version_numbers& v);

/// The 5 header lines (#Software, #Version, #Log-type, #Date, #Fields), each CRLF-terminated.
std::string header_block(std::chrono::system_clock::time_point file_opened,
                         std::string_view version);

/// `#Dropped: <n> records` CRLF: written before the next record after the queue overflowed.
std::string dropped_line(std::uint64_t n);

/// One CSV line: exactly 74 fields (73 commas), CRLF-terminated, values sanitised.
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
