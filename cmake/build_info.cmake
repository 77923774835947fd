# Run at build time (cmake -P): writes OUT, a C++ file with the git revision and the build day,
# and replaces it only when that text changed, so an unchanged tree relinks nothing.
# Inputs: SRC (the source tree), OUT. The day honours SOURCE_DATE_EPOCH (reproducible builds).
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE revision RESULT_VARIABLE failed ERROR_QUIET
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(failed OR revision STREQUAL "")
  set(revision "unknown (not a git checkout)")
endif()
string(TIMESTAMP day "%Y-%m-%d" UTC)
file(WRITE "${OUT}.new" "// Written by cmake/build_info.cmake at build time. Do not edit.
#include \"proxy/cli/build_info.hpp\"

namespace mapigate {
const char* const build_revision = \"${revision}\";
const char* const build_date = \"${day}\";
}  // namespace mapigate
")
file(COPY_FILE "${OUT}.new" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.new")
