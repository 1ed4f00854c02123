// `segstream generate`: the synthetic retail stream of ingest/generator.h as an Online Retail CSV
// (DESIGN §6), with an optional ground-truth sidecar.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/progress.h"
#include "ingest/csv_reader.h"
#include "ingest/generator.h"

namespace segstream::app {
namespace {

int64_t ParseStartDay(const std::string& text) {
  int64_t ms = 0;
  if (text.size() != 10 || !ingest::detail::ParseInvoiceDate(text + " 00:00", &ms) || ms < 0) {
    Fail("generate", "--start wants a date YYYY-MM-DD from 1970-01-01 on, got '" + text + "'", 2);
  }
  return ms / 86'400'000;
}

}  // namespace

void RegisterGenerateCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "generate", "Write a synthetic retail stream (personas, Zipf items, returns, drift) as CSV");
  struct Flags {
    ingest::GeneratorOptions options;
    std::string out, truth, start = "2023-01-02", drift_kind = "spend";
    int64_t drift_at = -1;
    double basket_scale = 1;
  };
  auto flags = std::make_shared<Flags>();
  auto& o = flags->options;
  cmd->add_option("--out", flags->out, "Output CSV; gzip-compressed when it ends in .gz")
      ->required();
  cmd->add_option("--customers", o.customers, "Initial customers")->capture_default_str();
  cmd->add_option("--days", o.days, "Days of event time")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed: same options and seed give the same bytes")
      ->capture_default_str();
  cmd->add_option("--start", flags->start, "First day, YYYY-MM-DD (UTC)")->capture_default_str();
  cmd->add_option("--items", o.items, "Catalogue size (SKU00001.. by popularity)")
      ->capture_default_str();
  cmd->add_option("--zipf", o.zipf_exponent, "Zipf exponent of item popularity")
      ->capture_default_str();
  cmd->add_option("--anonymous-share", o.anonymous_share,
                  "Expected share of purchase checkouts without CustomerID")
      ->capture_default_str();
  cmd->add_option("--weekend-factor", o.weekend_factor,
                  "Saturday/Sunday checkout rate relative to a weekday")
      ->capture_default_str();
  cmd->add_option("--return-window-days", o.return_window_days,
                  "Returns come 1..this many days after the purchase")
      ->capture_default_str();
  cmd->add_option("--basket-scale", flags->basket_scale,
                  "Multiplies every persona's (and walk-ins') mean distinct items per basket, "
                  "e.g. 10 for wholesale baskets of hundreds of skus (each mean stays <= 1000)")
      ->capture_default_str();
  cmd->add_option("--malformed-rate", o.malformed_rate,
                  "Share of purchases with one line the worker dead-letters (zero quantity, "
                  "negative price or empty SKU, a third each)")
      ->capture_default_str();
  cmd->add_option("--drift-at", flags->drift_at, "Inject drift from this day, 0..days (-1: none)")
      ->capture_default_str();
  cmd->add_option("--drift-kind", flags->drift_kind,
                  "spend | frequency | new-persona | shares (needs --drift-at)")
      ->capture_default_str();
  cmd->add_option("--drift-persona", o.drift.persona,
                  "Persona the drift affects (empty: loyal; reseller for new-persona)")
      ->capture_default_str();
  cmd->add_option("--drift-factor", o.drift.factor,
                  "spend: price x; frequency: rate x; new-persona: new customers / customers; "
                  "shares: switch probability (0: 2, 2, 0.2, 0.5)")
      ->capture_default_str();
  cmd->add_option("--drift-target", o.drift.target,
                  "shares: persona the switched customers become (empty: bargain_hunter)")
      ->capture_default_str();
  cmd->add_option("--truth", flags->truth,
                  "Also write the ground truth (personas, drift, customers' personas) as JSON");
  cmd->add_option("--gzip-level", o.gzip_level, "zlib level for .gz output, 1 (fast)..9")
      ->capture_default_str();
  cmd->callback([flags, cmd] {
    auto& o = flags->options;
    o.start_day = ParseStartDay(flags->start);
    if (!(flags->basket_scale > 0)) Fail("generate", "--basket-scale must be > 0", 2);
    // Scaled means below 1 stay 1 (a basket has at least one item); above 1000, validation fails.
    o.walk_in.mean_items = std::max(1.0, o.walk_in.mean_items * flags->basket_scale);
    for (auto& p : o.personas) p.mean_items = std::max(1.0, p.mean_items * flags->basket_scale);
    if (flags->drift_at != -1) {
      if (!ingest::ParseDriftKind(flags->drift_kind, &o.drift.kind) ||
          o.drift.kind == ingest::DriftKind::kNone) {
        Fail("generate",
             "unknown --drift-kind '" + flags->drift_kind +
                 "' (want spend, frequency, new-persona or shares)",
             2);
      }
      o.drift.at_day = flags->drift_at;
    } else if (cmd->count("--drift-kind") > 0) {
      Fail("generate", "--drift-kind needs --drift-at DAY", 2);
    }
    if (Status s = ingest::ValidateGeneratorOptions(o); !s.ok()) Fail("generate", s.message(), 2);
    if (!flags->truth.empty()) {
      // Fail now rather than after a long run.
      std::FILE* f = std::fopen(flags->truth.c_str(), "wb");
      if (f == nullptr) {
        Fail("generate", "cannot open '" + flags->truth + "' for writing: " + std::strerror(errno));
      }
      std::fclose(f);
    }
    ProgressBar bar("generate");
    o.on_progress = [&bar, days = o.days](const ingest::GenerateProgress& p) {
      bar.Update(static_cast<int64_t>(p.day * 1000), days * 1000,
                 std::to_string(p.checkouts) + " checkouts, " + std::to_string(p.lines) + " lines");
    };
    const auto started = std::chrono::steady_clock::now();
    auto result = ingest::GenerateToFile(o, flags->out);
    if (!result.ok()) {
      Fail("generate", result.status().message(),
           result.status().code() == StatusCode::kInvalidArgument ? 2 : 1);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    bar.Finish();
    if (!flags->truth.empty()) {
      if (Status s = ingest::WriteTruthJson(flags->truth, o, *result); !s.ok()) {
        Fail("generate", s.message());
      }
    }
    const auto& s = result->stats;
    std::fprintf(stderr,
                 "generate: %s: %lld checkouts (%lld purchases, %lld returns, %lld anonymous, "
                 "%lld malformed), %lld lines, %lld bytes in %.2f s (%.0f lines/s)\n",
                 flags->out.c_str(), static_cast<long long>(s.checkouts),
                 static_cast<long long>(s.purchase_checkouts),
                 static_cast<long long>(s.return_checkouts),
                 static_cast<long long>(s.anonymous_checkouts),
                 static_cast<long long>(s.malformed_checkouts), static_cast<long long>(s.lines),
                 static_cast<long long>(s.bytes), seconds,
                 static_cast<double>(s.lines) / std::max(seconds, 1e-9));
  });
}

}  // namespace segstream::app
