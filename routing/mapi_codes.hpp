// X-ResponseCode values of MAPI over HTTP ([MS-OXCMAPIHTTP] 2.2.3.3.3), shared by the proxy's
// own refusals and the simulator. Header-only, no dependencies.
#pragma once

#include <array>
#include <string_view>

namespace routing::mapi_code {

inline constexpr int success = 0;
inline constexpr int unknown_failure = 1;
inline constexpr int invalid_verb = 2;
inline constexpr int invalid_path = 3;
inline constexpr int invalid_header = 4;
inline constexpr int invalid_request_type = 5;
inline constexpr int invalid_context_cookie = 6;
inline constexpr int missing_header = 7;
inline constexpr int anonymous_not_allowed = 8;
inline constexpr int too_large = 9;
inline constexpr int context_not_found = 10;
inline constexpr int no_privilege = 11;
inline constexpr int invalid_request_body = 12;
inline constexpr int missing_cookie = 13;
inline constexpr int reserved = 14;
inline constexpr int invalid_sequence = 15;
inline constexpr int endpoint_disabled = 16;
inline constexpr int invalid_response = 17;
inline constexpr int endpoint_shutting_down = 18;

/// The specification's name for `code` ("Context Not Found"), or "Unknown" outside 0..18.
constexpr std::string_view name(int code) noexcept {
  constexpr std::array<std::string_view, 19> names{"Success",
                                                   "Unknown Failure",
                                                   "Invalid Verb",
                                                   "Invalid Path",
                                                   "Invalid Header",
                                                   "Invalid Request Type",
                                                   "Invalid Context Cookie",
                                                   "Missing Header",
                                                   "Anonymous Not Allowed",
                                                   "Too Large",
                                                   "Context Not Found",
                                                   "No Privilege",
                                                   "Invalid Request Body",
                                                   "Missing Cookie",
                                                   "Reserved",
                                                   "Invalid Sequence",
                                                   "Endpoint Disabled",
                                                   "Invalid Response",
                                                   "Endpoint Shutting Down"};
  return code >= 0 && code < int(names.size()) ? names[std::size_t(code)] : "Unknown";
}

}  // namespace routing::mapi_code
