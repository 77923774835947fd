// The stderr log: plain lines (UTC timestamp, level word) or journal lines (sd-daemon priority
// prefix, no timestamp), one line per call; and the budget of lines clients can cause.
#include "proxy/io/log.hpp"

#include <gtest/gtest.h>

namespace proxy {
namespace {

using namespace std::chrono;

const auto at = sys_days{year{2026} / 12 / 7} + 1h + 2min + 3s + 456ms;

TEST(Log, PlainLinesCarryTheTimeAndTheLevel) {
  EXPECT_EQ(format_log_line(log_format::plain, log_level::warn, "backend down", at),
            "2026-12-07T01:02:03.456Z warn backend down\n");
}

TEST(Log, JournalLinesCarryThePriorityAndNoTimestamp) {
  EXPECT_EQ(format_log_line(log_format::journal, log_level::debug, "a", at), "<7>a\n");
  EXPECT_EQ(format_log_line(log_format::journal, log_level::info, "b", at), "<6>b\n");
  EXPECT_EQ(format_log_line(log_format::journal, log_level::warn, "c", at), "<4>c\n");
  EXPECT_EQ(format_log_line(log_format::journal, log_level::error, "d", at), "<3>d\n");
}

TEST(Log, ALineBreakInsideCannotStartAnotherEntry) {
  EXPECT_EQ(format_log_line(log_format::journal, log_level::info, "x\n<3>forged\r", at),
            "<6>x <3>forged \n");
}

TEST(Log, TheBudgetLetsABurstThroughThenCountsWhatItDrops) {
  log_budget budget(3, 2);  // 3 at once, 2 a second
  const auto t0 = steady_clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(budget.take(t0), std::optional<std::uint64_t>(0)) << i;
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(budget.take(t0)) << i;
  // Half a second refills one line: it goes and says five were dropped.
  EXPECT_EQ(budget.take(t0 + 500ms), std::optional<std::uint64_t>(5));
  EXPECT_FALSE(budget.take(t0 + 500ms));
  // A long quiet refills up to the burst, no further.
  const auto t1 = t0 + 1h;
  EXPECT_EQ(budget.take(t1), std::optional<std::uint64_t>(1));
  EXPECT_EQ(budget.take(t1), std::optional<std::uint64_t>(0));
  EXPECT_EQ(budget.take(t1), std::optional<std::uint64_t>(0));
  EXPECT_FALSE(budget.take(t1));
}

}  // namespace
}  // namespace proxy
