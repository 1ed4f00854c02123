// The generator's fixed model pieces: personas, drift kinds and defaults, option validation, the
// weekly clock and the catalogue. The simulation itself is in generator.cc.
#include <algorithm>
#include <cmath>
#include <set>

#include "ingest/generator.h"
#include "ingest/generator_random.h"

namespace segstream::ingest {

std::vector<PersonaParams> DefaultPersonas() {
  // name, share, mean gap days, gap shape, mean items, mean units/line, price level, return rate.
  return {
      {"champion", 0.08, 4, 2.0, 18, 6, 1.0, 0.04},
      {"loyal", 0.20, 10, 1.5, 10, 4, 1.0, 0.05},
      {"big_spender", 0.06, 21, 1.5, 25, 24, 1.3, 0.08},
      {"bargain_hunter", 0.16, 7, 1.0, 5, 3, 0.6, 0.15},
      {"occasional", 0.30, 45, 0.8, 4, 2, 1.0, 0.06},
      {"one_off", 0.20, 0, 1.0, 3, 2, 1.1, 0.10},
      {"reseller", 0.0, 3, 3.0, 3, 48, 0.7, 0.02},
  };
}

PersonaParams WalkInPersona() { return {"walk_in", 0, 0, 1.0, 4, 2, 1.0, 0.0}; }

const char* DriftKindName(DriftKind kind) {
  switch (kind) {
    case DriftKind::kNone:
      return "none";
    case DriftKind::kSpend:
      return "spend";
    case DriftKind::kFrequency:
      return "frequency";
    case DriftKind::kNewPersona:
      return "new-persona";
    case DriftKind::kShares:
      return "shares";
  }
  return "none";
}

bool ParseDriftKind(std::string_view text, DriftKind* out) {
  for (DriftKind k : {DriftKind::kNone, DriftKind::kSpend, DriftKind::kFrequency,
                      DriftKind::kNewPersona, DriftKind::kShares}) {
    if (text == DriftKindName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

DriftSpec ResolveDrift(DriftSpec drift) {
  switch (drift.kind) {
    case DriftKind::kNone:
      break;
    case DriftKind::kSpend:
    case DriftKind::kFrequency:
      if (drift.persona.empty()) drift.persona = "loyal";
      if (drift.factor == 0) drift.factor = 2;
      break;
    case DriftKind::kNewPersona:
      if (drift.persona.empty()) drift.persona = "reseller";
      if (drift.factor == 0) drift.factor = 0.2;
      break;
    case DriftKind::kShares:
      if (drift.persona.empty()) drift.persona = "loyal";
      if (drift.target.empty()) drift.target = "bargain_hunter";
      if (drift.factor == 0) drift.factor = 0.5;
      break;
  }
  return drift;
}

namespace {

constexpr int64_t kMaxCustomers = 10'000'000;
constexpr int64_t kMaxItems = 1'000'000;
constexpr int64_t kLastDay = 2'932'896;  // 9999-12-31: the date format has four year digits

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool Finite(double v) { return std::isfinite(v); }

Status CheckPersona(const PersonaParams& p, const std::string& what) {
  auto bad = [&](const std::string& field, double v, const std::string& want) {
    return Status::InvalidArgument(what + " '" + p.name + "': " + field + " must be " + want +
                                   " (got " + Num(v) + ")");
  };
  if (p.name.empty()) return Status::InvalidArgument(what + " with an empty name");
  if (!Finite(p.share) || p.share < 0) return bad("share", p.share, ">= 0");
  if (!Finite(p.mean_gap_days) || p.mean_gap_days < 0 || p.mean_gap_days > 36500) {
    return bad("mean_gap_days", p.mean_gap_days, "in [0, 36500]");
  }
  if (!Finite(p.gap_shape) || p.gap_shape < 0.05 || p.gap_shape > 1000) {
    return bad("gap_shape", p.gap_shape, "in [0.05, 1000]");
  }
  if (!Finite(p.mean_items) || p.mean_items < 1 || p.mean_items > 1000) {
    return bad("mean_items", p.mean_items, "in [1, 1000]");
  }
  if (!Finite(p.mean_quantity) || p.mean_quantity < 1 || p.mean_quantity > 1e6) {
    return bad("mean_quantity", p.mean_quantity, "in [1, 1e6]");
  }
  if (!Finite(p.price_level) || p.price_level <= 0 || p.price_level > 1000) {
    return bad("price_level", p.price_level, "in (0, 1000]");
  }
  if (!Finite(p.return_rate) || p.return_rate < 0 || p.return_rate > 1) {
    return bad("return_rate", p.return_rate, "in [0, 1]");
  }
  return {};
}

int FindPersona(const std::vector<PersonaParams>& personas, const std::string& name) {
  for (size_t i = 0; i < personas.size(); ++i) {
    if (personas[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string PersonaNames(const std::vector<PersonaParams>& personas) {
  std::string names;
  for (const auto& p : personas) names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

}  // namespace

Status ValidateGeneratorOptions(const GeneratorOptions& o) {
  auto bad = [](const std::string& flag, const std::string& want, const std::string& got) {
    return Status::InvalidArgument(flag + " must be " + want + " (got " + got + ")");
  };
  if (o.customers <= 0 || o.customers > kMaxCustomers) {
    return bad("--customers", "in [1, " + std::to_string(kMaxCustomers) + "]",
               std::to_string(o.customers));
  }
  if (o.days <= 0 || o.days > 36'500) {
    return bad("--days", "in [1, 36500]", std::to_string(o.days));
  }
  if (o.start_day < 0 || o.start_day + o.days > kLastDay) {
    return Status::InvalidArgument(
        "--start must be a date from 1970-01-01 with the horizon ending "
        "by 9999-12-31");
  }
  if (o.items <= 0 || o.items > kMaxItems) {
    return bad("--items", "in [1, " + std::to_string(kMaxItems) + "]", std::to_string(o.items));
  }
  if (!Finite(o.zipf_exponent) || o.zipf_exponent < 0 || o.zipf_exponent > 10) {
    return bad("--zipf", "in [0, 10]", Num(o.zipf_exponent));
  }
  if (!Finite(o.anonymous_share) || o.anonymous_share < 0 || o.anonymous_share >= 1) {
    return bad("--anonymous-share", "in [0, 1)", Num(o.anonymous_share));
  }
  if (!Finite(o.weekend_factor) || o.weekend_factor <= 0 || o.weekend_factor > 100) {
    return bad("--weekend-factor", "in (0, 100]", Num(o.weekend_factor));
  }
  if (!Finite(o.return_window_days) || o.return_window_days < 1 || o.return_window_days > 3650) {
    return bad("--return-window-days", "in [1, 3650]", Num(o.return_window_days));
  }
  if (!Finite(o.malformed_rate) || o.malformed_rate < 0 || o.malformed_rate > 1) {
    return bad("--malformed-rate", "in [0, 1]", Num(o.malformed_rate));
  }
  if (o.gzip_level < 1 || o.gzip_level > 9) {
    return bad("--gzip-level", "in [1, 9]", std::to_string(o.gzip_level));
  }
  if (o.first_customer_id < 0 || o.first_invoice_no < 0) {
    return Status::InvalidArgument("first customer id and first invoice number must be >= 0");
  }
  if (o.personas.empty() || o.personas.size() > 250) {
    return Status::InvalidArgument("between 1 and 250 personas are needed");
  }
  double share_sum = 0;
  std::set<std::string> names;
  for (const auto& p : o.personas) {
    if (Status s = CheckPersona(p, "persona"); !s.ok()) return s;
    if (!names.insert(p.name).second) {
      return Status::InvalidArgument("persona name '" + p.name + "' is used twice");
    }
    share_sum += p.share;
  }
  if (!(share_sum > 0)) return Status::InvalidArgument("no persona has a share > 0");
  if (Status s = CheckPersona(o.walk_in, "walk-in persona"); !s.ok()) return s;

  if (o.drift.kind == DriftKind::kNone) return {};
  const DriftSpec d = ResolveDrift(o.drift);
  if (d.at_day < 0 || d.at_day > o.days) {
    return bad("--drift-at", "within [0, days] = [0, " + std::to_string(o.days) + "]",
               std::to_string(d.at_day));
  }
  const int p = FindPersona(o.personas, d.persona);
  if (p < 0) {
    return Status::InvalidArgument("--drift-persona '" + d.persona + "' is not a persona (" +
                                   PersonaNames(o.personas) + ")");
  }
  if (!Finite(d.factor) || d.factor <= 0 || d.factor > 1000) {
    return bad("--drift-factor", "in (0, 1000]", Num(d.factor));
  }
  const bool recurring = o.personas[p].mean_gap_days > 0;
  switch (d.kind) {
    case DriftKind::kFrequency:
      if (!recurring) {
        return Status::InvalidArgument("--drift-kind frequency needs a recurring persona; '" +
                                       d.persona + "' buys once");
      }
      break;
    case DriftKind::kNewPersona:
      if (std::floor(d.factor * static_cast<double>(o.customers)) < 1 ||
          d.factor * static_cast<double>(o.customers) + static_cast<double>(o.customers) >
              static_cast<double>(kMaxCustomers)) {
        return Status::InvalidArgument("--drift-factor x --customers must give between 1 and " +
                                       std::to_string(kMaxCustomers) + " customers in all");
      }
      break;
    case DriftKind::kShares: {
      if (!recurring) {
        return Status::InvalidArgument("--drift-kind shares needs a recurring source persona; '" +
                                       d.persona + "' buys once");
      }
      const int t = FindPersona(o.personas, d.target);
      if (t < 0 || t == p) {
        return Status::InvalidArgument("--drift-target '" + d.target +
                                       "' must be another persona (" + PersonaNames(o.personas) +
                                       ")");
      }
      if (d.factor > 1) return bad("--drift-factor", "in (0, 1] for shares", Num(d.factor));
      break;
    }
    default:
      break;
  }
  return {};
}

// Store hours, UTC: closed 21:00–08:00; relative checkout rate per opening hour, a midday peak
// and a smaller after-work one (the shape of Online Retail's hourly invoice counts, smoothed).
namespace {
constexpr double kHourProfile[24] = {0,   0,   0,   0,   0,   0,   0,   0,   0.6, 0.8, 1.0, 1.2,
                                     1.4, 1.3, 1.1, 1.0, 1.0, 1.1, 1.0, 0.7, 0.4, 0,   0,   0};
constexpr double kWeekSeconds = 7 * 86400.0;
}  // namespace

WeeklyClock::WeeklyClock(double weekend_factor) {
  double sum = 0;
  for (int h = 0; h < kHoursPerWeek; ++h) {
    const bool weekend = h / 24 >= 5;  // hour 0 is Monday 00:00
    rate_[h] = kHourProfile[h % 24] * (weekend ? weekend_factor : 1.0);
    sum += rate_[h];
  }
  cum_[0] = 0;
  for (int h = 0; h < kHoursPerWeek; ++h) {
    rate_[h] *= kHoursPerWeek / sum;
    cum_[h + 1] = cum_[h] + rate_[h] * 3600;
  }
}

double WeeklyClock::ToOp(double wall) const {
  const double week = std::floor(wall / kWeekSeconds);
  const double r = wall - week * kWeekSeconds;
  const int h = std::min(kHoursPerWeek - 1, static_cast<int>(r / 3600));
  return week * cum_[kHoursPerWeek] + cum_[h] + (r - h * 3600.0) * rate_[h];
}

double WeeklyClock::ToWall(double op) const {
  const double op_week = cum_[kHoursPerWeek];
  const double week = std::floor(op / op_week);
  const double r = op - week * op_week;
  // The last hour whose start is ≤ r; zero-rate (closed) hours have no width, so upper_bound lands
  // past them on the open hour that holds r.
  int h = static_cast<int>(std::upper_bound(cum_, cum_ + kHoursPerWeek + 1, r) - cum_) - 1;
  h = std::clamp(h, 0, kHoursPerWeek - 1);
  while (h > 0 && rate_[h] == 0) --h;  // r at the very end of the week, by rounding
  const double within = std::clamp((r - cum_[h]) / rate_[h], 0.0, 3600.0 - 1e-6);
  return week * kWeekSeconds + h * 3600.0 + within;
}

// The catalogue: word lists in the style of Online Retail's descriptions (upper case, no commas,
// so rows never need quoting) and pound price points, picked by a hash of the rank.
namespace {
constexpr const char* kColours[] = {"WHITE", "RED",    "PINK",   "BLUE",   "GREEN",  "IVORY",
                                    "CREAM", "BLACK",  "GOLD",   "SILVER", "PASTEL", "VINTAGE",
                                    "RETRO", "FLORAL", "SPOTTY", "STRIPED"};
constexpr const char* kStyles[] = {"HANGING",  "REGENCY",  "JUMBO",   "MINI",
                                   "SET OF 3", "SET OF 6", "GLASS",   "WOODEN",
                                   "ENAMEL",   "CERAMIC",  "KNITTED", "PAPER"};
constexpr const char* kNouns[] = {"HEART T-LIGHT HOLDER",
                                  "LANTERN",
                                  "COAT HANGER",
                                  "HOT WATER BOTTLE",
                                  "LUNCH BAG",
                                  "CAKE CASES",
                                  "ALARM CLOCK",
                                  "DOORMAT",
                                  "TEACUP AND SAUCER",
                                  "PHOTO FRAME",
                                  "BUNTING",
                                  "CANDLE",
                                  "JAM MAKING SET",
                                  "PARTY BUNTING",
                                  "STORAGE TIN",
                                  "NAPKINS",
                                  "CHILDRENS APRON",
                                  "WALL CLOCK",
                                  "GIFT WRAP",
                                  "BAKING SET",
                                  "DOLLY GIRL BEAKER",
                                  "PLASTERS IN TIN",
                                  "WATER BOTTLE",
                                  "SHOPPER BAG",
                                  "NOTEBOOK",
                                  "SPACEBOY MUG",
                                  "CHRISTMAS BAUBLE",
                                  "TRINKET BOX",
                                  "DRAWER KNOB",
                                  "CUSHION COVER",
                                  "PICNIC BASKET",
                                  "STRING OF LIGHTS"};
constexpr int64_t kPricePence[] = {29,  39,  42,  55,   65,   72,   83,   85,  125, 145,
                                   165, 195, 210, 255,  295,  325,  375,  425, 495, 595,
                                   795, 850, 995, 1275, 1495, 1800, 2495, 3500};

template <typename T, size_t N>
constexpr size_t Count(const T (&)[N]) {
  return N;
}

uint64_t RankHash(int64_t rank) { return MixKey(static_cast<uint64_t>(rank), 0xCA7A1065ULL, 0); }
}  // namespace

std::string CatalogueSku(int64_t rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "SKU%05lld", static_cast<long long>(rank));
  return buf;
}

std::string CatalogueDescription(int64_t rank) {
  const uint64_t h = RankHash(rank);
  std::string d = kColours[h % Count(kColours)];
  if ((h >> 8) % 3 == 0) d = d + " " + kStyles[(h >> 12) % Count(kStyles)];
  d = d + " " + kNouns[(h >> 20) % Count(kNouns)];
  return d;
}

int64_t CatalogueBasePriceMicros(int64_t rank) {
  const uint64_t h = RankHash(rank);
  // The smaller of two uniform picks: cheap lines are more common, as in Online Retail.
  const size_t a = (h >> 32) % Count(kPricePence);
  const size_t b = (h >> 48) % Count(kPricePence);
  return kPricePence[std::min(a, b)] * 10'000;
}

}  // namespace segstream::ingest
