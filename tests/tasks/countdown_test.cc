// Countdown problems: every one solvable by its kept equation (checked by the grader), within
// its settings, deterministic, and split by hash.
#include "tasks/countdown.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "eval/countdown.h"

namespace r1::tasks {
namespace {

TEST(CountdownTask, EveryProblemIsSolvedByItsEquation) {
  for (int numbers : {2, 3, 4, 6}) {
    CountdownOptions o;
    o.numbers = numbers;
    o.max_number = 30;
    o.max_target = 100;
    o.seed = 5;
    const auto problems = generate_countdown(300, o);
    ASSERT_EQ(problems.size(), 300u);
    for (const auto& p : problems) {
      ASSERT_EQ(p.numbers.size(), static_cast<size_t>(numbers));
      for (int64_t x : p.numbers) ASSERT_TRUE(x >= 1 && x <= 30);
      ASSERT_TRUE(p.target >= 1 && p.target <= 100);
      ASSERT_EQ(eval::grade_countdown("\\boxed{" + p.equation + "}", p.numbers, p.target).reward,
                1.0)
          << p.equation << " = " << p.target;
      ASSERT_EQ(split_of(p.canonical), Split::Train);
      ASSERT_FALSE(p.steps.empty());
    }
  }
}

TEST(CountdownTask, DeterministicDistinctAndSplit) {
  CountdownOptions o;
  o.split = Split::Test;
  o.distinct = true;
  const auto a = generate_countdown(200, o), b = generate_countdown(200, o);
  std::set<std::string> seen;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].canonical, b[i].canonical);
    EXPECT_TRUE(seen.insert(a[i].canonical).second);
    EXPECT_EQ(split_of(a[i].canonical), Split::Test);
  }
  const auto row = nlohmann::json::parse(countdown_eval_row(a[0]));
  EXPECT_EQ(row["numbers"].get<std::vector<int64_t>>(), a[0].numbers);
  EXPECT_EQ(row["target"], a[0].target);
  const auto sft = nlohmann::json::parse(countdown_sft_row(a[0]));
  const std::string reply = sft["messages"][1]["content"];
  EXPECT_EQ(eval::grade_countdown(reply, a[0].numbers, a[0].target).reward, 1.0) << reply;
  EXPECT_THROW(generate_countdown(10, CountdownOptions{0, Split::Train, 7}), Error);
}

}  // namespace
}  // namespace r1::tasks
