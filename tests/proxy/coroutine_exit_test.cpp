// The one completion handler of the coroutines that serve clients: an escaping exception, of
// any type, is logged and counted, never rethrown (one left uncaught would end the process).
#include <gtest/gtest.h>

#include <stdexcept>

#include "config/loader.hpp"
#include "metrics/registry.hpp"
#include "proxy/request/context.hpp"

namespace proxy {
namespace {

TEST(CoroutineExit, AnyEscapingExceptionIsCountedWhereItHappenedAndGoesNoFurther) {
  const auto loaded = config::load_string(R"(version: 1
server_name: gw
listeners:
  - name: plain
    address: 127.0.0.1:0
mapi:
  internal_url: http://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 127.0.0.1:9
routes:
  - default: true
    backend: mbx01
)",
                                          "t.yaml");
  ASSERT_TRUE(loaded);
  metrics::registry registry({"test", "1.81", "3"});
  const auto rt = std::make_shared<const runtime>(loaded.config, registry, nullptr);
  const on_coroutine_exit connection{rt, false, 1}, stream{rt, true, 7};
  EXPECT_NO_THROW(connection(nullptr));  // ended normally: nothing counted
  EXPECT_NO_THROW(connection(std::make_exception_ptr(std::runtime_error("bug"))));
  EXPECT_NO_THROW(stream(std::make_exception_ptr(42)));  // not a std::exception
  EXPECT_NO_THROW(stream(std::make_exception_ptr(std::logic_error("bug"))));
  const auto text = registry.serialize();
  EXPECT_NE(text.find(R"(mapigate_session_exceptions_total{in="connection"} 1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(mapigate_session_exceptions_total{in="http2_stream"} 2)"),
            std::string::npos);
}

}  // namespace
}  // namespace proxy
