// What `mapigate check` warns about in a configuration that is valid but unsafe: values that
// load and run, yet cut Outlook's long-polls, lose a drain to systemd, expose the admin API,
// turn verification off or strand NTLM. Pure: reads the snapshot only (file permissions are
// the caller's, they need a stat()).
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace config {

/// The longest PENDING period Exchange uses (X-PendingPeriod: 30 s): an upstream_idle below it
/// cuts a held NotificationWait between two PENDINGs.
inline constexpr duration longest_pending_period{30'000};
/// TimeoutStopSec of the shipped systemd unit (deploy/systemd/mapigate.service).
inline constexpr duration shipped_stop_timeout{45'000};

/// One warning per valid-but-unsafe value, each naming the key and why, in config order.
std::vector<std::string> unsafe_values(const snapshot& s);

/// Whether `host` (an endpoint's host as written) is a loopback address or "localhost".
bool is_loopback(const std::string& host);

}  // namespace config
