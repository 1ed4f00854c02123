// Each drift kind of the generator, from the CSV text (test parser of generator_test_util.h):
// the affected persona moves as configured from the drift day, the rest stays, the stream before
// the drift is byte-identical to the stationary one, and the truth sidecar says what was injected.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "ingest/generator.h"
#include "ingest/generator_test_util.h"

namespace segstream::ingest {
namespace {

using namespace generator_test;

TEST(GeneratorTest, SpendDriftMovesOnePersonasBasketValueNotShares) {
  const Generated& g = Stream(DriftKind::kSpend);
  ExpectSamePrefixAsStationary(g);
  const int loyal = g.Persona("loyal");
  for (size_t p = 0; p < g.options.personas.size(); ++p) {
    const PersonaStats before = Collect(g, static_cast<int>(p), 0, kDriftDay);
    const PersonaStats after = Collect(g, static_cast<int>(p), kDriftDay, kDays);
    if (before.purchases < 500) continue;  // one_off is thin per half; reseller absent
    const double expected = static_cast<int>(p) == loyal ? 2.0 : 1.0;
    EXPECT_NEAR(MeanBasket(after) / MeanBasket(before), expected, 0.12 * expected)
        << g.options.personas[p].name;
    EXPECT_NEAR(after.purchases / static_cast<double>(before.purchases), 1.0, 0.1)
        << g.options.personas[p].name;
  }
  const auto before = ActiveShares(g, kDriftDay - 28, kDriftDay);
  const auto after = ActiveShares(g, kDriftDay, kDriftDay + 28);
  for (size_t p = 0; p < before.size(); ++p) EXPECT_NEAR(after[p], before[p], 0.02) << p;
}

TEST(GeneratorTest, FrequencyDriftChangesOnePersonasRate) {
  const Generated& g = Stream(DriftKind::kFrequency);
  ExpectSamePrefixAsStationary(g);
  const int loyal = g.Persona("loyal");
  for (const char* name : {"champion", "loyal", "bargain_hunter", "occasional"}) {
    const int p = g.Persona(name);
    const PersonaStats before = Collect(g, p, 0, kDriftDay);
    const PersonaStats after = Collect(g, p, kDriftDay, kDays);
    const double expected = p == loyal ? 2.0 : 1.0;
    EXPECT_NEAR(after.purchases / static_cast<double>(before.purchases), expected, 0.1 * expected)
        << name;
    EXPECT_NEAR(MeanBasket(after) / MeanBasket(before), 1.0, 0.1) << name;
  }
}

TEST(GeneratorTest, NewPersonaAppearsAtTheDrift) {
  const Generated& g = Stream(DriftKind::kNewPersona);
  ExpectSamePrefixAsStationary(g);
  const auto& truth = g.result.truth;
  EXPECT_EQ(truth.new_customers, 1200);  // 0.2 × 6000
  const int64_t first_new = g.options.first_customer_id + g.options.customers;
  const int reseller = g.Persona("reseller");
  std::set<int64_t> active;
  int64_t lines = 0, units = 0;
  for (const auto& c : g.checkouts) {
    if (c.customer < first_new) continue;
    EXPECT_GE(c.day, kDriftDay) << c.invoice;
    EXPECT_EQ(g.PersonaOf(c.customer), reseller);
    if (c.is_return) continue;
    active.insert(c.customer);
    for (const auto& l : c.lines) ++lines, units += l.quantity;
  }
  // A 3-day gap over 42 days: nearly everyone buys.
  EXPECT_GT(static_cast<int64_t>(active.size()), 1150);
  EXPECT_NEAR(units / static_cast<double>(lines), 48, 48 * 0.07);
  const auto before = ActiveShares(g, kDriftDay - 28, kDriftDay);
  const auto after = ActiveShares(g, kDriftDay, kDriftDay + 28);
  EXPECT_EQ(before[reseller], 0);
  EXPECT_GT(after[reseller], 0.2);
}

TEST(GeneratorTest, SharesDriftSwitchesCustomersToTheTarget) {
  const Generated& g = Stream(DriftKind::kShares);
  ExpectSamePrefixAsStationary(g);
  const auto& truth = g.result.truth;
  const int loyal = g.Persona("loyal"), bargain = g.Persona("bargain_hunter");
  std::set<int64_t> switched;
  for (const auto& [index, to] : truth.switched) {
    EXPECT_EQ(truth.persona[index], loyal);
    EXPECT_EQ(to, bargain);
    switched.insert(g.options.first_customer_id + index);
  }
  int64_t loyal_count = 0;
  for (uint8_t p : truth.persona) loyal_count += p == loyal;
  EXPECT_NEAR(static_cast<double>(switched.size()) / loyal_count, 0.5,
              4 * std::sqrt(0.25 / loyal_count));
  auto is_switched = [&](int64_t c) { return switched.count(c) > 0; };
  auto stayed = [&](int64_t c) { return switched.count(c) == 0; };
  const PersonaStats moved_before = Collect(g, loyal, 0, kDriftDay, is_switched);
  const PersonaStats moved_after = Collect(g, loyal, kDriftDay, kDays, is_switched);
  const PersonaStats kept_before = Collect(g, loyal, 0, kDriftDay, stayed);
  const PersonaStats kept_after = Collect(g, loyal, kDriftDay, kDays, stayed);
  // Loyal → bargain hunter: gap 10 → 7 days, price level 1.0 → 0.6, 10 → 5 items.
  EXPECT_NEAR(moved_after.purchases / static_cast<double>(moved_before.purchases), 10 / 7.0, 0.15);
  EXPECT_NEAR(MeanPrice(moved_after) / MeanPrice(moved_before), 0.6, 0.05);
  EXPECT_NEAR(moved_after.lines / static_cast<double>(moved_after.purchases), 5, 0.3);
  EXPECT_NEAR(kept_after.purchases / static_cast<double>(kept_before.purchases), 1.0, 0.1);
  EXPECT_NEAR(MeanPrice(kept_after) / MeanPrice(kept_before), 1.0, 0.05);
}

TEST(GeneratorTest, DriftAtTheEdgesOfTheHorizon) {
  GeneratorOptions o = BaseOptions(DriftKind::kFrequency);
  o.customers = 3000;
  o.days = 28;
  // At day 0 the new rate holds from the first purchase on: loyal's mean gap is 10 / 2 days.
  o.drift.at_day = 0;
  auto g = RunGenerator(o);
  const int loyal = g->Persona("loyal");
  int64_t loyal_customers = 0;
  for (uint8_t p : g->result.truth.persona) loyal_customers += p == loyal;
  const PersonaStats s = Collect(*g, loyal, 0, 28);
  EXPECT_NEAR(s.purchases / static_cast<double>(loyal_customers) / (28 / 5.0), 1.0, 0.08);
  // At the last day nothing is left to change: the stationary stream, byte for byte.
  for (DriftKind kind :
       {DriftKind::kSpend, DriftKind::kFrequency, DriftKind::kNewPersona, DriftKind::kShares}) {
    GeneratorOptions at_end = BaseOptions(kind);
    at_end.customers = 1000;
    at_end.days = 28;
    at_end.drift.at_day = 28;
    GeneratorOptions none = at_end;
    none.drift.kind = DriftKind::kNone;
    EXPECT_TRUE(RunGenerator(at_end)->csv == RunGenerator(none)->csv) << DriftKindName(kind);
  }
}

TEST(GeneratorTest, TruthSidecarDescribesWhatWasInjected) {
  const Generated& g = Stream(DriftKind::kShares);
  const std::string path = TempPath("truth.json");
  ASSERT_TRUE(WriteTruthJson(path, g.options, g.result).ok());
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["format"], "segstream-generate-truth/1");
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["personas"].size(), g.options.personas.size());
  EXPECT_EQ(j["personas"][1]["name"], "loyal");
  EXPECT_EQ(j["drift"]["kind"], "shares");
  EXPECT_EQ(j["drift"]["persona"], "loyal");
  EXPECT_EQ(j["drift"]["target"], "bargain_hunter");
  EXPECT_EQ(j["drift"]["at_ms"], (kStartEpochSecond + kDriftDay * 86400) * 1000);
  EXPECT_EQ(j["customer_persona"].size(), 6000u);
  EXPECT_EQ(j["switched"].size(), g.result.truth.switched.size());
  EXPECT_EQ(j["stats"]["lines"], g.result.stats.lines);
  int64_t loyal = 0;
  for (const auto& p : j["customer_persona"]) loyal += p == 1;
  EXPECT_EQ(loyal, j["personas"][1]["customers"]);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace segstream::ingest
