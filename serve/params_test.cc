#include "serve/params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;

Request WithQuery(const std::string& query) {
  Request request;
  request.target = "/x?" + query;
  EXPECT_TRUE(ParseTarget(request.target, request).ok()) << query;
  return request;
}

struct IntCase {
  std::string query;
  std::optional<int64_t> expected;  // nullopt: a 400
};

TEST(ParamsTest, IntegerInRange) {
  const std::vector<IntCase> cases = {
      {"", 10},  // absent: default
      {"n=1", 1},
      {"n=1000", 1000},
      {"n=007", 7},
      {"n=42&window=all", 42},
      {"n=0", std::nullopt},
      {"n=1001", std::nullopt},
      {"n=-5", std::nullopt},
      {"n=", std::nullopt},
      {"n", std::nullopt},
      {"n=+5", std::nullopt},
      {"n=%205", std::nullopt},  // " 5"
      {"n=5%20", std::nullopt},
      {"n=1e3", std::nullopt},
      {"n=1e3x", std::nullopt},
      {"n=10.0", std::nullopt},
      {"n=0x10", std::nullopt},
      {"n=abc", std::nullopt},
      {"n=nan", std::nullopt},
      {"n=inf", std::nullopt},
      {"n=99999999999999999999999", std::nullopt},  // overflows int64
      {"n=1&n=1", std::nullopt},                    // duplicate
  };
  for (const auto& c : cases) {
    const auto n = IntParam(WithQuery(c.query), "n", 1, 1000, 10);
    if (c.expected) {
      ASSERT_TRUE(n.ok()) << c.query << ": " << n.status().ToString();
      EXPECT_EQ(n.value(), *c.expected) << c.query;
    } else {
      ASSERT_FALSE(n.ok()) << c.query << " gave " << n.value();
      EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(n.status().message(), HasSubstr("'n'")) << c.query;
      if (c.query.find("n=1&n=1") == std::string::npos) {
        EXPECT_THAT(n.status().message(), HasSubstr("[1, 1000]")) << c.query;
      }
    }
  }
  const auto missing = IntParam(WithQuery(""), "n", 1, 1000);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("missing parameter 'n'"));
  const auto full = IntParam(WithQuery("n=-9223372036854775808"), "n", INT64_MIN, INT64_MAX);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full.value(), INT64_MIN);
}

struct DoubleCase {
  std::string value;
  bool ok_q;  // in [0, 1]
  bool ok_p;  // in (0, 100]
};

TEST(ParamsTest, DoubleInClosedAndHalfOpenRanges) {
  const DoubleRange q_range{0, 1};
  const DoubleRange p_range{0, 100, /*lo_open=*/true};
  const std::vector<DoubleCase> cases = {
      {"0", true, false},         {"0.0", true, false},    {"1", true, true},
      {"0.5", true, true},        {".5", true, true},      {"5e-1", true, true},
      {"1e-300", true, true},     {"100", false, true},    {"100.0000001", false, false},
      {"1.0000001", false, true}, {"-0.1", false, false},  {"-0", true, false},
      {"", false, false},         {"nan", false, false},   {"NaN", false, false},
      {"inf", false, false},      {"-inf", false, false},  {"infinity", false, false},
      {"1e3x", false, false},     {"0.5.1", false, false}, {"+0.5", false, false},
      {"0x1p-1", false, false},   {"1e400", false, false}, {"%200.5", false, false},
      {"0,5", false, false},
  };
  for (const auto& c : cases) {
    const Request request = WithQuery("q=" + c.value + "&p=" + c.value);
    const auto q = DoubleParam(request, "q", q_range);
    const auto p = DoubleParam(request, "p", p_range);
    EXPECT_EQ(q.ok(), c.ok_q) << "q=" << c.value << " " << q.status().ToString();
    EXPECT_EQ(p.ok(), c.ok_p) << "p=" << c.value << " " << p.status().ToString();
    if (!q.ok()) {
      EXPECT_THAT(q.status().message(), HasSubstr("parameter 'q' must be a number in [0, 1]"));
    }
    if (!p.ok()) {
      EXPECT_THAT(p.status().message(), HasSubstr("parameter 'p' must be a number in (0, 100]"));
    }
  }
  EXPECT_EQ(DoubleParam(WithQuery("q=0.25"), "q", q_range).value(), 0.25);
  EXPECT_EQ(DoubleParam(WithQuery(""), "p", p_range, 10.0).value(), 10.0);
  EXPECT_FALSE(DoubleParam(WithQuery(""), "p", p_range).ok());
  const DoubleRange open_both{0, 1, true, true};
  EXPECT_FALSE(open_both.Contains(0));
  EXPECT_FALSE(open_both.Contains(1));
  EXPECT_TRUE(open_both.Contains(0.5));
  EXPECT_EQ(open_both.ToString(), "(0, 1)");
}

TEST(ParamsTest, DoubleList) {
  const DoubleRange range{0, 1};
  const auto ok = DoubleListParam(WithQuery("q=0.5,0.9,0.99"), "q", range);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok.value().size(), 3u);
  EXPECT_EQ(ok.value()[0].text, "0.5");
  EXPECT_EQ(ok.value()[1].value, 0.9);
  EXPECT_EQ(ok.value()[2].text, "0.99");

  const auto encoded = DoubleListParam(WithQuery("q=0.1%2C1"), "q", range);  // %2C is ','
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded.value().size(), 2u);

  const auto fallback = DoubleListParam(WithQuery(""), "q", range, {0.5, 0.99});
  ASSERT_TRUE(fallback.ok());
  ASSERT_EQ(fallback.value().size(), 2u);
  EXPECT_EQ(fallback.value()[0].text, "0.5");
  EXPECT_EQ(fallback.value()[1].text, "0.99");

  for (const char* bad : {"q=", "q=0.5,", "q=,0.5", "q=0.5,,0.9", "q=0.5,1.5", "q=0.5,nan",
                          "q=0.5;0.9", "q=0.5%200.9", "q=1&q=0.5", "q=0.5,x"}) {
    const auto r = DoubleListParam(WithQuery(bad), "q", range, {0.5});
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("'q'")) << bad;
  }
  EXPECT_FALSE(DoubleListParam(WithQuery(""), "q", range).ok());  // required

  std::string many = "q=0";
  for (int i = 0; i < 100; ++i) many += ",0";  // 101 items
  EXPECT_FALSE(DoubleListParam(WithQuery(many), "q", range).ok());
  EXPECT_TRUE(DoubleListParam(WithQuery(many), "q", range, {}, 101).ok());
}

TEST(ParamsTest, Enums) {
  const auto window = [](const std::string& query) {
    return EnumParam(WithQuery(query), "window", {"all", "1h", "24h", "7d", "30d"}, "all");
  };
  EXPECT_EQ(window("").value(), "all");
  EXPECT_EQ(window("window=24h").value(), "24h");
  EXPECT_EQ(window("window=30d").value(), "30d");
  for (const char* bad :
       {"window=", "window=ALL", "window=2h", "window=7d%20", "window=all&window=1h", "window=7"}) {
    const auto r = window(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("'window'")) << bad;
  }
  const auto by = EnumParam(WithQuery("by=profit"), "by", {"orders", "units", "revenue"});
  ASSERT_FALSE(by.ok());
  EXPECT_THAT(by.status().message(),
              HasSubstr("parameter 'by' must be one of orders, units, revenue, got 'profit'"));
  EXPECT_FALSE(EnumParam(WithQuery(""), "by", {"orders"}).ok());  // required without default
}

TEST(ParamsTest, UnknownAndDuplicateParameters) {
  EXPECT_TRUE(CheckParams(WithQuery("n=5&window=all"), {"n", "window", "by"}).ok());
  EXPECT_TRUE(CheckParams(WithQuery(""), {}).ok());
  const Status typo = CheckParams(WithQuery("n=5&windw=1h"), {"n", "window", "by"});
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.message(), HasSubstr("unknown parameter 'windw'; allowed: n, window, by"));
  const Status none = CheckParams(WithQuery("x=1"), {});
  EXPECT_THAT(none.message(), HasSubstr("takes none"));
  const Status dup = CheckParams(WithQuery("n=5&n=6"), {"n"});
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.message(), HasSubstr("'n' given more than once"));
}

TEST(ParamsTest, LongValuesAreClippedInMessages) {
  const std::string huge(10000, '7');
  const auto r = IntParam(WithQuery("n=" + huge), "n", 1, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 200u);
}

TEST(ParamsTest, StrictParsers) {
  EXPECT_EQ(ParseInt64("12"), 12);
  EXPECT_EQ(ParseInt64("-12"), -12);
  EXPECT_FALSE(ParseInt64("").has_value());
  EXPECT_FALSE(ParseInt64("-").has_value());
  EXPECT_FALSE(ParseInt64("9223372036854775808").has_value());
  EXPECT_EQ(ParseFiniteDouble("2.5"), 2.5);
  EXPECT_FALSE(ParseFiniteDouble("2.5 ").has_value());
  EXPECT_FALSE(ParseFiniteDouble("1e309").has_value());
}

}  // namespace
}  // namespace segstream::serve
