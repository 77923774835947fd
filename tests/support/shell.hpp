// Running a command line in tests (the mapigate CLI, promtool, h2load) and
// collecting its exit status and output, stderr included.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace testing_support {

struct command_result {
  int status = -1;  ///< exit status; -1 when it could not run or did not exit normally
  std::string output;
};

/// Runs `command` with /bin/sh, stderr merged into stdout. Blocks until it exits: give the
/// command its own bound (every tool the tests run has one: a timeout option or a finite job).
inline command_result run_shell(const std::string& command) {
  command_result r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
    r.output.append(buf, n);
  const int rc = ::pclose(p);
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

}  // namespace testing_support
