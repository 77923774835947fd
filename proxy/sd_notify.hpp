// systemd readiness notification (sd_notify(3) protocol), written by hand: one datagram to
// $NOTIFY_SOCKET, no libsystemd dependency. A no-op when not started by systemd (Type=notify).
#pragma once

#include <string_view>

namespace proxy {

/// Sends `state` ("READY=1", "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1", "STATUS=...").
/// Returns false when $NOTIFY_SOCKET is unset or the send failed; never throws.
bool sd_notify(std::string_view state) noexcept;

/// "RELOADING=1" with the MONOTONIC_USEC field systemd 253+ expects for Type=notify-reload.
bool sd_notify_reloading() noexcept;

}  // namespace proxy
