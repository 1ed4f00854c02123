#include "tests/fault_input.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "segstream.pb.h"

namespace segstream::tests {

// ---------------------------------------------------------------------------------------------
// Truth

Truth ComputeTruth(const std::vector<InputRecord>& records) {
  Truth truth;
  for (const InputRecord& r : records) {
    if (!r.expected_reason.empty()) {
      ++truth.dlq;
      ++truth.dlq_reasons[r.expected_reason];
      continue;
    }
    ++truth.processed;
    std::set<std::string> sold;
    for (const auto& line : r.lines) {
      ItemTruth& item = truth.items[line.sku];
      if (line.quantity > 0) {
        item.units += line.quantity;
        item.revenue_micros += line.quantity * line.price_micros;
        sold.insert(line.sku);
      } else {
        item.returned_units += -line.quantity;
      }
    }
    for (const std::string& sku : sold) ++truth.items[sku].orders;
  }
  return truth;
}

// ---------------------------------------------------------------------------------------------
// CheckoutGenerator

struct CheckoutGenerator::Draft {
  std::string invoice, customer, store;
  int64_t event_ms = 0;
  std::vector<InputRecord::Line> lines;
};

namespace {

constexpr int kCatalogue = 400;

// prefix + n (appending, because GCC 12 warns falsely, -Wrestrict, on "literal" + std::string).
std::string Cat(std::string_view prefix, int64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// The first 40 skus come in case pairs ("SKU1003A" / "SKU1003a"): skus are case-sensitive.
std::string Sku(int i) {
  if (i < 40) return Cat("SKU", 1000 + i / 2) + (i % 2 ? "A" : "a");
  return Cat("P", 20000 + i);
}

void AppendJsonInt(std::string* out, int64_t v, bool as_string) {
  if (as_string) *out += '"';
  *out += std::to_string(v);
  if (as_string) *out += '"';
}

}  // namespace

const std::vector<std::string>& CheckoutGenerator::CheckoutRules() {
  static const std::vector<std::string> rules = {
      "empty_invoice_no", "no_lines",       "bad_event_time", "empty_sku",
      "zero_quantity",    "negative_price", "too_many_lines"};
  return rules;
}

CheckoutGenerator::Draft CheckoutGenerator::NewDraft() {
  std::uniform_real_distribution<double> u(0, 1);
  Draft d;
  const int64_t n = next_invoice_++;
  d.invoice = Cat("INV", 500000 + n);
  d.customer = u(rng_) < 0.15 ? "" : Cat("C", 12000 + static_cast<int64_t>(rng_() % 3000));
  static const char* kStores[] = {"United Kingdom", "France", "Germany", "EIRE", "Spain"};
  d.store = kStores[rng_() % 5];
  d.event_ms = 1291191960000 + n * 37000;
  const int count = u(rng_) < 0.02 ? 40 : 1 + static_cast<int>(rng_() % 10);
  for (int i = 0; i < count; ++i) {
    InputRecord::Line line;
    // Skewed popularity: a few skus get most of the orders.
    line.sku = Sku(static_cast<int>(kCatalogue * std::pow(u(rng_), 2.5)));
    line.quantity = u(rng_) < 0.12 ? -1 - static_cast<int64_t>(rng_() % 6)
                                   : 1 + static_cast<int64_t>(rng_() % 24);
    line.price_micros = (1 + static_cast<int64_t>(rng_() % 2000)) * 10000;
    d.lines.push_back(line);
    if (u(rng_) < 0.1) {  // the same sku again, in the other direction
      InputRecord::Line again = line;
      again.quantity = line.quantity > 0 ? -1 : 3;
      d.lines.push_back(again);
    }
  }
  return d;
}

InputRecord CheckoutGenerator::Encode(const Draft& d, bool json) {
  InputRecord r;
  r.key = d.customer.empty() ? d.invoice : d.customer;
  if (json) {
    // Written by hand (not protobuf's printer): both name styles, int64 as string or number.
    const bool camel = rng_() % 2;
    const bool quoted = rng_() % 2;
    std::string s = "{\"" + std::string(camel ? "invoiceNo" : "invoice_no") + "\": \"" + d.invoice +
                    "\", \"" + (camel ? "customerId" : "customer_id") + "\": \"" + d.customer +
                    "\", \"store\": \"" + d.store + "\", \"" +
                    (camel ? "eventTimeMs" : "event_time_ms") + "\": ";
    AppendJsonInt(&s, d.event_ms, quoted);
    s += ", \"currency\": \"GBP\", \"lines\": [";
    for (size_t i = 0; i < d.lines.size(); ++i) {
      const auto& l = d.lines[i];
      if (i) s += ", ";
      s += "{\"sku\": \"" + l.sku + "\", \"description\": \"ITEM " + l.sku + "\", \"quantity\": ";
      AppendJsonInt(&s, l.quantity, quoted);
      s += ", \"" + std::string(camel ? "unitPriceMicros" : "unit_price_micros") + "\": ";
      AppendJsonInt(&s, l.price_micros, quoted);
      s += "}";
    }
    s += "]}";
    r.value = std::move(s);
  } else {
    v1::Checkout c;
    c.set_invoice_no(d.invoice);
    c.set_customer_id(d.customer);
    c.set_store(d.store);
    c.set_event_time_ms(d.event_ms);
    c.set_currency("GBP");
    for (const auto& l : d.lines) {
      v1::Line* line = c.add_lines();
      line->set_sku(l.sku);
      line->set_description("ITEM " + l.sku);
      line->set_quantity(l.quantity);
      line->set_unit_price_micros(l.price_micros);
    }
    r.value = c.SerializeAsString();
  }
  return r;
}

InputRecord CheckoutGenerator::Valid() {
  Draft d = NewDraft();
  InputRecord r = Encode(d, rng_() % 5 == 0);
  r.lines = d.lines;
  return r;
}

InputRecord CheckoutGenerator::Breaking(const std::string& rule) {
  Draft d = NewDraft();
  const size_t bad = rng_() % d.lines.size();
  bool json = rng_() % 4 == 0;
  if (rule == "empty_invoice_no") {
    d.invoice.clear();
  } else if (rule == "no_lines") {
    d.lines.clear();
  } else if (rule == "too_many_lines") {
    d.lines.assign(10001, {"S", 1, 1});  // 10,001 lines; compresses to almost nothing
    json = false;
  } else if (rule == "bad_event_time") {
    d.event_ms = rng_() % 2 ? 0 : -static_cast<int64_t>(1 + rng_() % 1000000);
  } else if (rule == "empty_sku") {
    d.lines[bad].sku.clear();
  } else if (rule == "zero_quantity") {
    d.lines[bad].quantity = 0;
  } else if (rule == "negative_price") {
    d.lines[bad].price_micros = -1 - static_cast<int64_t>(rng_() % 1000000);
  } else {
    ADD_FAILURE() << "unknown rule " << rule;
  }
  InputRecord r = Encode(d, json);
  if (d.invoice.empty()) r.key = "anon";
  r.expected_reason = rule;
  return r;
}

std::vector<InputRecord> CheckoutGenerator::Stream(int count, int invalid_every) {
  std::vector<InputRecord> out;
  out.reserve(count);
  size_t rule = 0;
  const auto& rules = CheckoutRules();
  for (int i = 0; i < count; ++i) {
    if (invalid_every > 0 && i % invalid_every == invalid_every - 1) {
      // too_many_lines is left to the malformed-flood test: it is 10,001 lines each time.
      out.push_back(Breaking(rules[rule++ % (rules.size() - 1)]));
    } else {
      out.push_back(Valid());
    }
  }
  return out;
}

}  // namespace segstream::tests
