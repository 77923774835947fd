// What `mapigate --version` says about the build. build_info.cpp is generated at build time by
// cmake/build_info.cmake (git revision, build day); the library versions come from CMake's
// package versions (compile definitions) and the libraries themselves (run time).
#pragma once

#include <string>

namespace mapigate {

extern const char* const build_revision;  ///< `git describe --always --dirty`, or "unknown (...)"
extern const char* const build_date;      ///< YYYY-MM-DD (UTC; SOURCE_DATE_EPOCH when set)

/// "mapigate 0.1.0\nrevision ...\nbuilt ...\nlibraries: Boost 1.81, OpenSSL 3.0.x, ..." —
/// OpenSSL and nghttp2 as loaded at run time, the others as compiled in.
std::string version_text();

}  // namespace mapigate
