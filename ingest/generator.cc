// The generator's simulation: a discrete-event loop over customers' next purchases, walk-ins and
// pending returns in operational time (model and guarantees in generator.h), writing CSV rows into
// one large buffer — no allocation per row.
#include "ingest/generator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <queue>

#include "ingest/generator_random.h"

namespace segstream::ingest {
namespace {

constexpr double kDaySeconds = 86400;
constexpr uint32_t kAnonymous = UINT32_MAX;  // Event::who of a walk-in
constexpr uint32_t kPurchase = UINT32_MAX;   // Event::slot of a purchase (else a return slot)
constexpr int64_t kMaxBasket = 1000;         // far under the DLQ's 10,000 lines
constexpr size_t kBufferBytes = 4 << 20;
constexpr size_t kMaxRowBytes = 512;

// Independent random streams, keyed by (seed, who/number, stream): see MixKey.
enum Stream : uint64_t {
  kSetupStream = 1,
  kPurchaseStream = 2,
  kAnonStream = 3,
  kMalformedStream = 4,
  kSwitchStream = 5
};

struct Country {
  const char* name;
  double weight;
};
// Home countries of customers (and of walk-ins' checkouts), roughly Online Retail's mix.
constexpr Country kCountries[] = {
    {"United Kingdom", 0.82}, {"Germany", 0.04},      {"France", 0.04},  {"EIRE", 0.03},
    {"Spain", 0.015},         {"Netherlands", 0.015}, {"Belgium", 0.01}, {"Switzerland", 0.01},
    {"Portugal", 0.008},      {"Australia", 0.007},   {"Norway", 0.005}};
constexpr size_t kCountryCount = sizeof kCountries / sizeof kCountries[0];

uint8_t DrawCountry(Xoshiro256& rng) {
  double u = rng.Uniform();
  for (size_t i = 0; i + 1 < kCountryCount; ++i) {
    if (u < kCountries[i].weight) return static_cast<uint8_t>(i);
    u -= kCountries[i].weight;
  }
  return kCountryCount - 1;
}

struct Event {
  double op;      // operational seconds since the reference Monday
  uint64_t seq;   // push order: breaks ties deterministically
  uint32_t who;   // customer index, or kAnonymous
  uint32_t slot;  // kPurchase, or the index of a PendingReturn
};
struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.op != b.op ? a.op > b.op : a.seq > b.seq;
  }
};

struct Line {
  uint32_t item;  // rank - 1
  int64_t quantity;
  int64_t price_micros;
};
struct PendingReturn {
  int count;
  Line lines[3];
};

struct Customer {
  uint32_t purchases = 0;  // keys the random stream of the next purchase
  uint8_t persona = 0;     // before the drift instant
  uint8_t after = 0;       // from the drift instant (== persona unless switched)
  uint8_t country = 0;
};

char* Put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
char* PutInt(char* p, int64_t v) { return std::to_chars(p, p + 24, v).ptr; }
char* Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}
// Micros that are whole pence → "12.34" / "-0.55".
char* PutPrice(char* p, int64_t micros) {
  if (micros < 0) *p++ = '-', micros = -micros;
  const int64_t pence = micros / 10'000;
  p = PutInt(p, pence / 100);
  *p++ = '.';
  return Put2(p, static_cast<unsigned>(pence % 100));
}

class Simulation {
 public:
  Simulation(const GeneratorOptions& o, ByteSink* sink)
      : o_(o), sink_(sink), clock_(o.weekend_factor), buf_(kBufferBytes) {}

  Result<GenerateResult> Run();

 private:
  void Setup();
  void BuildCatalogue();
  void PushFirstWalkIn(double rate_before, double rate_after);
  double AnonRatio() const {
    return anon_rate_after_ > 0 ? anon_rate_before_ / anon_rate_after_ : -1;
  }
  int64_t PriceOf(uint32_t item, double level) const {
    const double pence = std::floor(static_cast<double>(base_price_[item] / 10'000) * level + 0.5);
    return std::max<int64_t>(1, static_cast<int64_t>(pence)) * 10'000;
  }
  double RateOf(const PersonaParams& p, double span) const {
    return p.mean_gap_days > 0 ? 1 / (p.mean_gap_days * kDaySeconds) : 1 / span;
  }
  // Pushes an event at `raw`, drawn at `from` with the rules in force before the drift instant,
  // rescaling the part after the instant by `after_ratio` (new mean gap / old; ≤ 0: the process
  // stops there) — a time change, exact for Poisson processes and for a pure rate change.
  bool Schedule(double from, double raw, double after_ratio, uint32_t who, uint32_t slot);
  double GapRatio(const Customer& c) const;
  void Purchase(uint32_t who, double op);
  void Return(uint32_t who, uint32_t slot, double op);
  void BeginCheckout(double op, bool is_return, int64_t customer_id, const char* country);
  void WriteLine(const Line& line, bool empty_sku);
  void Flush();

  const GeneratorOptions& o_;
  ByteSink* sink_;
  WeeklyClock clock_;
  std::vector<PersonaParams> before_, after_;
  DriftSpec drift_;
  int drift_persona_ = -1, drift_target_ = -1;
  int64_t ref_second_ = 0;  // the Monday 00:00 UTC on or before the start day
  double op_start_ = 0, op_end_ = 0, op_drift_ = 0;
  double anon_rate_before_ = 0, anon_rate_after_ = 0;

  std::vector<Customer> customers_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  uint64_t seq_ = 0;
  uint64_t anon_count_ = 0;
  std::vector<PendingReturn> returns_;
  std::vector<uint32_t> free_returns_;

  AliasTable zipf_;
  std::string arena_;              // "SKU,DESCRIPTION" per item
  std::vector<uint32_t> offsets_;  // items + 1
  std::vector<uint8_t> sku_len_;
  std::vector<int64_t> base_price_;
  std::vector<uint32_t> seen_;  // per item: stamp of the last basket holding it
  uint32_t stamp_ = 0;
  std::vector<Line> basket_;

  // Output.
  std::vector<char> buf_;
  size_t pos_ = 0;
  Status status_;
  char prefix_[32], middle_[40], suffix_[64];  // ",date," and ",customer,country\n" of a checkout
  size_t prefix_len_ = 0, middle_len_ = 0, suffix_len_ = 0;
  int64_t last_wall_ = INT64_MIN, cached_day_ = INT64_MIN;
  char date_[10];  // YYYY-MM-DD of cached_day_
  int64_t since_progress_ = 0;
  GenerateResult result_;
};

void Simulation::BuildCatalogue() {
  const auto n = static_cast<size_t>(o_.items);
  zipf_ = AliasTable(ZipfWeights(o_.items, o_.zipf_exponent));
  offsets_.reserve(n + 1);
  sku_len_.reserve(n);
  base_price_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto rank = static_cast<int64_t>(i + 1);
    const std::string sku = CatalogueSku(rank);
    offsets_.push_back(static_cast<uint32_t>(arena_.size()));
    sku_len_.push_back(static_cast<uint8_t>(sku.size()));
    arena_ += sku;
    arena_ += ',';
    arena_ += CatalogueDescription(rank);
    base_price_.push_back(CatalogueBasePriceMicros(rank));
  }
  offsets_.push_back(static_cast<uint32_t>(arena_.size()));
  seen_.assign(n, 0);
}

void Simulation::Setup() {
  drift_ = ResolveDrift(o_.drift);
  before_ = o_.personas;
  after_ = o_.personas;
  auto find = [&](const std::string& name) {
    for (size_t i = 0; i < before_.size(); ++i) {
      if (before_[i].name == name) return static_cast<int>(i);
    }
    return -1;
  };
  if (drift_.kind != DriftKind::kNone) drift_persona_ = find(drift_.persona);
  if (drift_.kind == DriftKind::kShares) drift_target_ = find(drift_.target);
  if (drift_.kind == DriftKind::kSpend) after_[drift_persona_].price_level *= drift_.factor;
  if (drift_.kind == DriftKind::kFrequency) after_[drift_persona_].mean_gap_days /= drift_.factor;

  const int64_t ref_day = o_.start_day - (o_.start_day + 3) % 7;  // 1970-01-01 was a Thursday
  ref_second_ = ref_day * 86400;
  const double start_wall = static_cast<double>(o_.start_day - ref_day) * kDaySeconds;
  op_start_ = clock_.ToOp(start_wall);
  op_end_ = clock_.ToOp(start_wall + static_cast<double>(o_.days) * kDaySeconds);
  // Without drift the instant is past the end, so every "after" branch is dead.
  op_drift_ = drift_.kind == DriftKind::kNone
                  ? op_end_ + 1
                  : clock_.ToOp(start_wall + static_cast<double>(drift_.at_day) * kDaySeconds);
  result_.truth.drift = drift_;
  result_.truth.drift_ms =
      drift_.kind == DriftKind::kNone ? 0 : (o_.start_day + drift_.at_day) * int64_t{86'400'000};

  BuildCatalogue();

  double share_sum = 0;
  size_t last_with_share = 0;
  for (size_t p = 0; p < before_.size(); ++p) {
    share_sum += before_[p].share;
    if (before_[p].share > 0) last_with_share = p;
  }
  const int64_t new_count =
      drift_.kind == DriftKind::kNewPersona
          ? static_cast<int64_t>(std::floor(drift_.factor * static_cast<double>(o_.customers)))
          : 0;
  const auto total = static_cast<size_t>(o_.customers + new_count);
  customers_.resize(total);
  result_.truth.persona.resize(total);
  result_.truth.new_customers = new_count;
  const double span = op_end_ - op_start_;
  double rate_before = 0, rate_after = 0;  // expected identified purchases per op second

  // Initial customers, then the walk-in, then new-persona customers: the push order (the tie
  // break) of everything before the drift does not depend on the drift.
  for (size_t i = 0; i < total; ++i) {
    const bool is_new = i >= static_cast<size_t>(o_.customers);
    if (is_new && i == static_cast<size_t>(o_.customers)) PushFirstWalkIn(rate_before, rate_after);
    Customer& c = customers_[i];
    Xoshiro256 rng(MixKey(o_.seed, i, kSetupStream));
    if (is_new) {
      c.persona = static_cast<uint8_t>(drift_persona_);
    } else {
      // Inversion over the cumulative shares; rounding can only land on the last persona with
      // a share, never on a share-0 one.
      double u = rng.Uniform() * share_sum;
      size_t chosen = last_with_share;
      for (size_t p = 0; p < last_with_share; ++p) {
        if (before_[p].share == 0) continue;
        if (u < before_[p].share) {
          chosen = p;
          break;
        }
        u -= before_[p].share;
      }
      c.persona = static_cast<uint8_t>(chosen);
    }
    c.after = c.persona;
    c.country = DrawCountry(rng);
    if (drift_.kind == DriftKind::kShares && c.persona == drift_persona_ &&
        Xoshiro256(MixKey(o_.seed, i, kSwitchStream)).Uniform() < drift_.factor) {
      c.after = static_cast<uint8_t>(drift_target_);
      result_.truth.switched.emplace_back(static_cast<uint32_t>(i), c.after);
    }
    result_.truth.persona[i] = c.persona;

    const double from = is_new ? op_drift_ : op_start_;
    const PersonaParams& p = is_new ? after_[c.persona] : before_[c.persona];
    double first;
    if (p.mean_gap_days > 0) {
      const double u = rng.Uniform();
      // Equilibrium forward-recurrence time of a gamma renewal process: U × Gamma(k + 1, θ).
      first =
          from + u * SampleGamma(rng, p.gap_shape + 1, p.mean_gap_days / p.gap_shape) * kDaySeconds;
    } else {
      first = from + rng.Uniform() * (op_end_ - from);
    }
    if (is_new) {
      if (first < op_end_) queue_.push({first, seq_++, static_cast<uint32_t>(i), kPurchase});
    } else {
      Schedule(from, first, GapRatio(c), static_cast<uint32_t>(i), kPurchase);
      rate_before += RateOf(before_[c.persona], span);
      const PersonaParams& a = after_[c.after];
      if (a.mean_gap_days > 0 || before_[c.persona].mean_gap_days == 0) {
        rate_after += RateOf(a, span);
      }
    }
  }
  if (new_count == 0) PushFirstWalkIn(rate_before, rate_after);
}

void Simulation::PushFirstWalkIn(double rate_before, double rate_after) {
  if (o_.anonymous_share == 0) return;
  if (drift_.kind == DriftKind::kNewPersona) {
    rate_after += static_cast<double>(result_.truth.new_customers) *
                  RateOf(after_[drift_persona_], op_end_ - op_drift_);
  }
  const double odds = o_.anonymous_share / (1 - o_.anonymous_share);
  anon_rate_before_ = odds * rate_before;
  anon_rate_after_ = odds * rate_after;
  // Poisson, so starting at op_start_ is already stationary.
  Xoshiro256 rng(MixKey(o_.seed, anon_count_, kAnonStream));
  const double raw = op_start_ + SampleExponential(rng) / anon_rate_before_;
  Schedule(op_start_, raw, AnonRatio(), kAnonymous, kPurchase);
}

bool Simulation::Schedule(double from, double raw, double after_ratio, uint32_t who,
                          uint32_t slot) {
  double t = raw;
  // `from == op_drift_` still rescales: callers pass 1 when they already drew with the new rules.
  if (from <= op_drift_ && raw > op_drift_) {
    if (!(after_ratio > 0)) return false;
    t = op_drift_ + (raw - op_drift_) * after_ratio;
  }
  if (!(t < op_end_)) return false;
  queue_.push({t, seq_++, who, slot});
  return true;
}

double Simulation::GapRatio(const Customer& c) const {
  const double before = before_[c.persona].mean_gap_days;
  const double after = after_[c.after].mean_gap_days;
  if (before == 0) return 1;  // a one-off's single purchase is not a gap
  return after > 0 ? after / before : -1;
}

void Simulation::Purchase(uint32_t who, double op) {
  const bool anon = who == kAnonymous;
  const bool drifted = op >= op_drift_;
  Customer* c = anon ? nullptr : &customers_[who];
  const uint64_t number = anon ? anon_count_++ : c->purchases++;
  const uint64_t key = anon ? (uint64_t{1} << 63) | number : (uint64_t{who} << 32) | number;
  const PersonaParams& p = anon ? o_.walk_in : (drifted ? after_[c->after] : before_[c->persona]);
  // Walk-in n draws from key n + 1: key 0 drew the first walk-in's arrival.
  Xoshiro256 rng(anon ? MixKey(o_.seed, number + 1, kAnonStream)
                      : MixKey(o_.seed, key, kPurchaseStream));
  const uint8_t country = anon ? DrawCountry(rng) : c->country;

  const int64_t k =
      std::min<int64_t>({1 + SamplePoisson(rng, p.mean_items - 1), o_.items, kMaxBasket});
  if (++stamp_ == 0) {
    std::fill(seen_.begin(), seen_.end(), 0);
    stamp_ = 1;
  }
  basket_.clear();
  // Distinct items: redraw repeats, giving up after 64 tries per item (tiny catalogues, s ≫ 1).
  for (int64_t tries = 0; static_cast<int64_t>(basket_.size()) < k && tries < 64 * k; ++tries) {
    const uint32_t item = zipf_.Sample(rng);
    if (seen_[item] == stamp_) continue;
    seen_[item] = stamp_;
    basket_.push_back({item, SampleGeometric(rng, p.mean_quantity), PriceOf(item, p.price_level)});
  }

  // Own stream, so turning malformed rows on changes nothing else of this purchase.
  size_t bad_line = SIZE_MAX;
  bool empty_sku = false;
  if (o_.malformed_rate > 0) {
    Xoshiro256 m(MixKey(o_.seed, key, kMalformedStream));
    if (m.Uniform() < o_.malformed_rate) {
      const uint64_t reason = m.Below(3);
      bad_line = m.Below(basket_.size());
      auto& stats = result_.stats;
      ++stats.malformed_checkouts;
      if (reason == 0) {
        basket_[bad_line].quantity = 0;
        ++stats.malformed_zero_quantity;
      } else if (reason == 1) {
        basket_[bad_line].price_micros = -basket_[bad_line].price_micros;
        ++stats.malformed_negative_price;
      } else {
        empty_sku = true;
        ++stats.malformed_empty_sku;
      }
    }
  }

  BeginCheckout(op, false, anon ? -1 : o_.first_customer_id + who, kCountries[country].name);
  for (size_t i = 0; i < basket_.size(); ++i) WriteLine(basket_[i], empty_sku && i == bad_line);
  ++result_.stats.purchase_checkouts;
  if (anon) ++result_.stats.anonymous_checkouts;

  if (!anon && rng.Uniform() < p.return_rate && bad_line == SIZE_MAX) {
    PendingReturn r{};
    const double v = rng.Uniform();
    r.count = std::min<int>(v < 0.7 ? 1 : v < 0.9 ? 2 : 3, static_cast<int>(basket_.size()));
    size_t chosen[3];
    for (int j = 0; j < r.count; ++j) {
      size_t line;
      do {
        line = rng.Below(basket_.size());
      } while (std::find(chosen, chosen + j, line) != chosen + j);
      chosen[j] = line;
      const Line& bought = basket_[line];
      r.lines[j] = {bought.item, 1 + static_cast<int64_t>(rng.Below(bought.quantity)),
                    bought.price_micros};
    }
    const double delay = (1 + rng.Uniform() * (o_.return_window_days - 1)) * kDaySeconds;
    uint32_t slot;
    if (free_returns_.empty()) {
      slot = static_cast<uint32_t>(returns_.size());
      returns_.push_back(r);
    } else {
      slot = free_returns_.back();
      free_returns_.pop_back();
      returns_[slot] = r;
    }
    if (!Schedule(op, op + delay, 1, who, slot)) free_returns_.push_back(slot);
  }

  if (anon) {
    const double rate = drifted ? anon_rate_after_ : anon_rate_before_;
    if (rate > 0) {
      Schedule(op, op + SampleExponential(rng) / rate, drifted ? 1 : AnonRatio(), kAnonymous,
               kPurchase);
    }
  } else if (p.mean_gap_days > 0) {
    const double gap = SampleGamma(rng, p.gap_shape, p.mean_gap_days / p.gap_shape);
    Schedule(op, op + gap * kDaySeconds, drifted ? 1 : GapRatio(*c), who, kPurchase);
  }
}

void Simulation::Return(uint32_t who, uint32_t slot, double op) {
  const PendingReturn& r = returns_[slot];
  BeginCheckout(op, true, o_.first_customer_id + who, kCountries[customers_[who].country].name);
  for (int j = 0; j < r.count; ++j) {
    Line line = r.lines[j];
    line.quantity = -line.quantity;
    WriteLine(line, false);
  }
  ++result_.stats.return_checkouts;
  free_returns_.push_back(slot);
}

void Simulation::BeginCheckout(double op, bool is_return, int64_t customer_id,
                               const char* country) {
  int64_t wall = ref_second_ + static_cast<int64_t>(std::floor(clock_.ToWall(op)));
  wall = std::max(wall, last_wall_);  // rounding at hour edges must never step back
  last_wall_ = wall;
  const int64_t day = wall / 86400;
  const auto second = static_cast<unsigned>(wall - day * 86400);
  if (day != cached_day_) {
    cached_day_ = day;
    const std::string date = FormatDate(day);
    std::memcpy(date_, date.data(), sizeof date_);
  }
  auto& stats = result_.stats;
  char* p = prefix_;
  if (is_return) *p++ = 'C';
  p = PutInt(p, o_.first_invoice_no + stats.checkouts);
  *p++ = ',';
  prefix_len_ = p - prefix_;
  p = middle_;
  *p++ = ',';
  p = Put(p, std::string_view(date_, 10));
  *p++ = ' ';
  p = Put2(p, second / 3600);
  *p++ = ':';
  p = Put2(p, second / 60 % 60);
  *p++ = ':';
  p = Put2(p, second % 60);
  *p++ = ',';
  middle_len_ = p - middle_;
  p = suffix_;
  *p++ = ',';
  if (customer_id >= 0) p = PutInt(p, customer_id);
  *p++ = ',';
  p = Put(p, country);
  *p++ = '\n';
  suffix_len_ = p - suffix_;

  if (stats.checkouts == 0) stats.first_ms = wall * 1000;
  stats.last_ms = wall * 1000;
  ++stats.checkouts;
  if (o_.on_progress && ++since_progress_ >= o_.progress_every) {
    since_progress_ = 0;
    o_.on_progress({stats.checkouts, stats.lines, stats.bytes + static_cast<int64_t>(pos_),
                    static_cast<double>(wall - (o_.start_day * 86400)) / kDaySeconds});
  }
}

void Simulation::WriteLine(const Line& line, bool empty_sku) {
  if (pos_ + kMaxRowBytes > buf_.size()) Flush();
  char* p = buf_.data() + pos_;
  p = Put(p, std::string_view(prefix_, prefix_len_));
  const uint32_t from = offsets_[line.item] + (empty_sku ? sku_len_[line.item] : 0);
  p = Put(p, std::string_view(arena_.data() + from, offsets_[line.item + 1] - from));
  *p++ = ',';
  p = PutInt(p, line.quantity);
  p = Put(p, std::string_view(middle_, middle_len_));
  p = PutPrice(p, line.price_micros);
  p = Put(p, std::string_view(suffix_, suffix_len_));
  pos_ = static_cast<size_t>(p - buf_.data());
  ++result_.stats.lines;
}

void Simulation::Flush() {
  if (pos_ == 0) return;
  if (status_.ok()) status_ = sink_->Write(std::string_view(buf_.data(), pos_));
  result_.stats.bytes += static_cast<int64_t>(pos_);
  pos_ = 0;
}

Result<GenerateResult> Simulation::Run() {
  Setup();
  static constexpr std::string_view kHeader =
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
  std::memcpy(buf_.data(), kHeader.data(), kHeader.size());
  pos_ = kHeader.size();
  while (!queue_.empty() && status_.ok()) {
    const Event e = queue_.top();
    queue_.pop();
    if (e.slot == kPurchase) {
      Purchase(e.who, e.op);
    } else {
      Return(e.who, e.slot, e.op);
    }
  }
  Flush();
  if (!status_.ok()) return status_;
  if (o_.on_progress) {
    const auto& s = result_.stats;
    o_.on_progress({s.checkouts, s.lines, s.bytes, static_cast<double>(o_.days)});
  }
  return std::move(result_);
}

}  // namespace

Result<GenerateResult> Generate(const GeneratorOptions& options, ByteSink* sink) {
  if (Status s = ValidateGeneratorOptions(options); !s.ok()) return s;
  auto simulation = std::make_unique<Simulation>(options, sink);
  return simulation->Run();
}

Result<GenerateResult> GenerateToFile(const GeneratorOptions& options, const std::string& path) {
  if (Status s = ValidateGeneratorOptions(options); !s.ok()) return s;
  auto sink = OpenFileSink(path, options.gzip_level);
  if (!sink.ok()) return sink.status();
  auto result = Generate(options, sink->get());
  Status closed = (*sink)->Close();
  if (!result.ok()) return result;
  if (!closed.ok()) return closed;
  return result;
}

}  // namespace segstream::ingest
