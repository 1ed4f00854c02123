// Contract tests of the segment endpoints (DESIGN §6) over a real server and a real redis-server:
// the state is written with the stream/segments.h encoders as the workers write it, and every
// expected value is computed here from what was written.
#include "serve/segments_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "serve/http_server.h"
#include "serve/serve_metrics.h"
#include "serve/test_client.h"
#include "storage/keys.h"
#include "storage/redis_child.h"

namespace segstream::serve {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testing::StringResponse;
using testing::TestClient;
namespace http = boost::beast::http;
using Quantized = std::array<int64_t, stream::kFeatureCount>;

constexpr int64_t kAsOf = 1'323'000'000'000;  // 2011-12-04
constexpr int64_t kDayMs = 86'400'000;
const char* const kNames[] = {"recency_days",      "frequency",           "monetary",
                              "mean_basket_value", "mean_distinct_items", "return_rate"};

stream::SegmentModel ThreeSegmentModel() {
  stream::SegmentModel m;
  m.version = 4;
  m.k = 3;
  m.as_of_ms = kAsOf;
  m.transform.log1p = {true, true, true, true, true, false};
  m.transform.center = {3.5, 1.0, 6.0, 5.5, 2.5, 0.02};
  m.transform.scale = {1.5, 0.75, 1.25, 0.5, 0.5, 0.05};
  m.centroids = {{-1.0, 1.5, 1.25, 0.5, 0.25, -0.4},
                 {1.0, -0.5, -0.75, 0.0, -0.5, 0.0},
                 {-0.5, -1.0, -1.0, -0.25, 0.0, 0.2}};
  m.labels = {"Champions", "Lapsed", "New"};
  m.sizes = {5, 6, 7};
  m.inertia = 42.5;
  return m;
}

struct Written {
  std::string id;
  int32_t partition;
  stream::CustomerState state;
};

stream::CustomerState Segmented(int64_t i, int32_t segment) {
  stream::CustomerState c;
  c.first_sale_ms = kAsOf - (200 + i) * kDayMs;
  c.last_sale_ms = kAsOf - (i % 90) * kDayMs - 3'600'000;
  c.sale_checkouts = 1 + i % 7;
  c.sales_micros = 12'340'000 * (1 + i % 11);
  c.returns_micros = i % 4 == 0 ? 1'500'000 : 0;
  c.units = 10 + i % 13;
  c.returned_units = i % 4 == 0 ? 2 : 0;
  c.distinct_items = 3 * c.sale_checkouts + i % 2;
  c.segment = segment;
  c.distance = 0.25 + 0.001 * static_cast<double>(i);
  c.quantized = {1'000 * i - 40'000, -7 * i, 250'000 + i, -1'000'000, i % 5, 3 - i};
  c.model_version = 4;
  c.as_of_ms = kAsOf;
  return c;
}

class SegmentsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_server_ = new storage::RedisChild();
    ASSERT_TRUE(redis_server_->Start().ok());
  }
  static void TearDownTestSuite() {
    delete redis_server_;
    redis_server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(redis_server_, nullptr);
    options_ = {redis_server_->host(), redis_server_->port()};
    auto conn = storage::RedisConnection::Connect(options_);
    ASSERT_TRUE(conn.ok());
    redis_ = std::make_unique<storage::RedisConnection>(std::move(*conn));
    Run({"FLUSHALL"});
    SnapshotCacheOptions cache_options;
    cache_options.redis = options_;
    cache_ = std::make_unique<SnapshotCache>(cache_options);
    Router router;
    RegisterSegmentsApi(router, cache_.get(), {.redis = options_, .scan_count = 40});
    RegisterMetrics(router, &metrics_, {cache_.get(), nullptr});
    HttpServerOptions http_options;
    http_options.port = 0;
    server_ = std::make_unique<HttpServer>(std::move(router), http_options);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Stop(); }

  void Run(const std::vector<std::string>& argv) {
    auto reply = redis_->Command(argv);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ASSERT_FALSE(reply->is_error()) << reply->str;
  }
  void Refresh() {
    Status s = cache_->Refresh();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  StringResponse Get(const std::string& target, http::verb verb = http::verb::get) {
    TestClient client(server_->port());
    StringResponse r;
    EXPECT_FALSE(client.Call(verb, target, r)) << target;
    return r;
  }

  // Partitions 0..2; partition 1 holds 300 customers (a real hash table, paged by HSCAN) and the
  // others a few, including unsegmented ones and an id that needs CSV quoting.
  void WritePipeline(bool with_stats = true) {
    Run({"SADD", storage::PartitionsSetKey(storage::kCheckoutsTopic), "0", "1", "2"});
    Run({"SET", storage::ModelKey(), model_.Encode()});
    written_.clear();
    written_.push_back({"17850", 0, Segmented(5, 0)});
    written_[0].state.quantized = {1'234'567, -50, 0, 2'000'000, -1'000'000, 7};
    stream::CustomerState no_model = Segmented(6, -1);  // has a sale, not assigned yet
    no_model.quantized = {};
    stream::CustomerState returns_only;  // a return, never a sale
    returns_only.returns_micros = 4'000'000;
    returns_only.returned_units = 1;
    written_.push_back({"13047", 0, no_model});
    written_.push_back({"RET1", 2, returns_only});
    written_.push_back({"a,b\"c", 2, Segmented(7, 2)});
    written_.push_back({"12583", 2, Segmented(8, 1)});
    for (int i = 0; i < 300; ++i) {
      written_.push_back({"p1-" + std::to_string(i), 1, Segmented(100 + i, i % 3)});
    }
    std::map<int32_t, std::vector<std::string>> hset;
    std::map<int32_t, std::vector<stream::SegmentStats>> stats;
    std::map<int32_t, std::array<int64_t, 2>> counts;  // customers with a sale, segmented
    for (const Written& w : written_) {
      auto& args = hset[w.partition];
      if (args.empty()) args = {"HSET", storage::CustomersKey(w.partition)};
      args.push_back(w.id);
      args.push_back(stream::EncodeCustomer(w.state));
      stats.try_emplace(w.partition, std::vector<stream::SegmentStats>(3));
      if (w.state.has_sale()) ++counts[w.partition][0];
      if (w.state.segment >= 0) {
        stats[w.partition][w.state.segment].Add(w.state.quantized);
        ++counts[w.partition][1];
      }
    }
    for (const auto& [p, args] : hset) Run(args);
    for (int32_t p = 0; p < 3; ++p) {
      if (with_stats) Run({"SET", storage::SegmentStatsKey(p), stream::EncodeStats(stats[p])});
      Run({"HSET", storage::SegmentMetaKey(p), "scored_version", "4", "customers",
           std::to_string(counts[p][0]), "segmented", std::to_string(counts[p][1])});
    }
  }

  static storage::RedisChild* redis_server_;
  storage::RedisOptions options_;
  std::unique_ptr<storage::RedisConnection> redis_;
  ServeMetrics metrics_;
  std::unique_ptr<SnapshotCache> cache_;
  std::unique_ptr<HttpServer> server_;
  const stream::SegmentModel model_ = ThreeSegmentModel();
  std::vector<Written> written_;
};
storage::RedisChild* SegmentsApiTest::redis_server_ = nullptr;

// The inverse of DESIGN §3's transform, written out independently of FeatureTransform::Invert.
double Original(const stream::SegmentModel& m, int segment, int j) {
  const double v = m.centroids[segment][j] * m.transform.scale[j] + m.transform.center[j];
  return m.transform.log1p[j] ? std::copysign(std::expm1(std::fabs(v)), v) : v;
}

TEST_F(SegmentsApiTest, SegmentsReportModelAndLiveMembership) {
  WritePipeline();
  Refresh();
  const StringResponse r = Get("/v1/segments");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  const json body = json::parse(r.body());
  EXPECT_EQ(body["model_version"], 4);
  EXPECT_EQ(body["k"], 3);
  EXPECT_EQ(body["as_of_ms"], kAsOf);
  EXPECT_EQ(body["features"], json(std::vector<std::string>(std::begin(kNames), std::end(kNames))));
  EXPECT_EQ(body["scored"], true);
  EXPECT_EQ(body["customers"], 304);  // every written customer but the returns-only one
  EXPECT_EQ(body["segmented"], 303);
  EXPECT_THAT(body["transform"]["description"].get<std::string>(), HasSubstr("log1p"));
  for (int j = 0; j < stream::kFeatureCount; ++j) {
    const json& f = body["transform"]["per_feature"][kNames[j]];
    EXPECT_EQ(f["log1p"], j != 5) << kNames[j];
    EXPECT_DOUBLE_EQ(f["center"].get<double>(), model_.transform.center[j]);
    EXPECT_DOUBLE_EQ(f["scale"].get<double>(), model_.transform.scale[j]);
  }

  // Live membership and inertia, from the written members in double precision.
  std::vector<int64_t> sizes(3, 0);
  std::vector<std::array<double, 6>> sum(3, std::array<double, 6>{});
  std::vector<double> sum_sq(3, 0);
  for (const Written& w : written_) {
    if (w.state.segment < 0) continue;
    ++sizes[w.state.segment];
    for (int j = 0; j < 6; ++j) {
      const double x = static_cast<double>(w.state.quantized[j]) * 1e-6;
      sum[w.state.segment][j] += x;
      sum_sq[w.state.segment] += x * x;
    }
  }
  double inertia = 0;
  for (int s = 0; s < 3; ++s) {
    double mean_sq = 0;
    for (int j = 0; j < 6; ++j) mean_sq += sum[s][j] * sum[s][j];
    inertia += sum_sq[s] - mean_sq / static_cast<double>(sizes[s]);
  }
  // sum_squares is kept in integer millionths: at most 0.5e-6 off per member.
  EXPECT_NEAR(body["inertia"].get<double>(), inertia, 303 * 1e-6);

  ASSERT_EQ(body["segments"].size(), 3u);
  for (int s = 0; s < 3; ++s) {
    const json& seg = body["segments"][s];
    EXPECT_EQ(seg["id"], s);
    EXPECT_EQ(seg["label"], model_.labels[s]);
    EXPECT_EQ(seg["size"], sizes[s]);
    ASSERT_EQ(seg["centroid_scaled"].size(), 6u);
    for (int j = 0; j < 6; ++j) {
      EXPECT_DOUBLE_EQ(seg["centroid_scaled"][j].get<double>(), model_.centroids[s][j]);
      EXPECT_NEAR(seg["centroid"][kNames[j]].get<double>(), Original(model_, s, j),
                  1e-9 * (1 + std::fabs(Original(model_, s, j))))
          << s << " " << kNames[j];
    }
  }

  // The same figures on /metrics.
  const StringResponse m = Get("/metrics");
  EXPECT_THAT(m.body(), HasSubstr("\nsegstream_segment_model_version 4\n"));
  EXPECT_THAT(m.body(), HasSubstr("segstream_segment_size{segment=\"0\"} " +
                                  std::to_string(sizes[0]) + "\n"));
  EXPECT_THAT(m.body(), HasSubstr("segstream_segment_size{segment=\"2\"} " +
                                  std::to_string(sizes[2]) + "\n"));
  EXPECT_THAT(m.body(), HasSubstr("\nsegstream_kmeans_inertia "));

  // One partition still re-scoring: not scored.
  Run({"HSET", storage::SegmentMetaKey(1), "scored_version", "3"});
  Refresh();
  EXPECT_EQ(json::parse(Get("/v1/segments").body())["scored"], false);
}

TEST_F(SegmentsApiTest, WithoutLiveStatisticsTheModelSizesAreReported) {
  WritePipeline(/*with_stats=*/false);
  Refresh();
  const json body = json::parse(Get("/v1/segments").body());
  EXPECT_DOUBLE_EQ(body["inertia"].get<double>(), 42.5);
  for (int s = 0; s < 3; ++s) EXPECT_EQ(body["segments"][s]["size"], model_.sizes[s]);
}

TEST_F(SegmentsApiTest, BasketValueQuantilesMergeEveryPartitionsDigest) {
  WritePipeline();
  // Basket values 1..1000 spread over two partitions' digests; partition 2 has none.
  stream::TDigest even, odd;
  for (int v = 1; v <= 1000; ++v) (v % 2 ? odd : even).Add(v);
  Run({"SET", storage::BasketDigestKey(0), even.Serialize()});
  Run({"SET", storage::BasketDigestKey(1), odd.Serialize()});
  Refresh();
  const json body = json::parse(Get("/v1/segments").body());
  ASSERT_TRUE(body["basket_value"].is_object()) << body.dump();
  EXPECT_EQ(body["basket_value"]["checkouts"], 1000);
  // Exact quantiles of 1..1000 are q·1000 (within one rank); the merged digest is far closer.
  for (const char* q : {"0.1", "0.25", "0.5", "0.75", "0.9", "0.99"}) {
    EXPECT_NEAR(body["basket_value"]["quantiles"][q].get<double>(), std::stod(q) * 1000, 2) << q;
  }
}

TEST_F(SegmentsApiTest, BeforeAnyModelItIsWarmingUpNotAnError) {
  Run({"SADD", storage::PartitionsSetKey(storage::kCheckoutsTopic), "0"});
  Run({"HSET", storage::CustomersKey(0), "17850", stream::EncodeCustomer([] {
         stream::CustomerState c = Segmented(1, -1);
         c.quantized = {};
         return c;
       }())});
  Refresh();
  const StringResponse r = Get("/v1/segments");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  const json body = json::parse(r.body());
  EXPECT_EQ(body["model_version"], 0);
  EXPECT_EQ(body["k"], 6);
  EXPECT_TRUE(body["segments"].empty());
  EXPECT_TRUE(body["transform"].is_null());
  EXPECT_EQ(body["scored"], false);
  EXPECT_EQ(body["features"].size(), 6u);
  EXPECT_TRUE(body["basket_value"].is_null());
  EXPECT_EQ(Get("/v1/customers/17850").result_int(), 404);
  const StringResponse csv = Get("/v1/export/customers.csv");
  EXPECT_EQ(csv.result_int(), 200);
  EXPECT_EQ(csv.body(),
            "customer_id,segment,recency_days,frequency,monetary,mean_basket_value,"
            "mean_distinct_items,return_rate\n");
  EXPECT_THAT(Get("/metrics").body(), Not(HasSubstr("segstream_kmeans_inertia ")));
}

TEST_F(SegmentsApiTest, DriftServesTheEvaluatorsTableAndNewestAlertsFirst) {
  WritePipeline();
  Refresh();
  // Before the evaluator wrote anything: warming up, empty table, no alerts.
  StringResponse r = Get("/v1/drift");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  json body = json::parse(r.body());
  EXPECT_EQ(body["warming_up"], true);
  EXPECT_EQ(body["model_version"], 4);
  EXPECT_TRUE(body["segments"].empty());
  EXPECT_TRUE(body["alerts"].empty());

  const json report = {{"model_version", 4},
                       {"evaluated_through_ms", kAsOf},
                       {"warming_up", false},
                       {"psi", 0.31},
                       {"psi_state", "alert"},
                       {"segments",
                        {{{"id", 0},
                          {"label", "Champions"},
                          {"centroid_shift", 1.2},
                          {"cost_ratio", nullptr},
                          {"psi", 0.2},
                          {"state", "alert"}}}}};
  Run({"SET", storage::DriftReportKey(), report.dump()});
  const json older = {{"segment", 0},
                      {"kind", "SHARE_PSI"},
                      {"value", 0.3},
                      {"threshold", 0.25},
                      {"event_time_ms", kAsOf - kDayMs}};
  const json newer = {{"segment", 0},
                      {"kind", "CENTROID_SHIFT"},
                      {"value", 1.2},
                      {"threshold", 1.0},
                      {"event_time_ms", kAsOf}};
  Run({"LPUSH", storage::DriftAlertsKey(), older.dump()});
  Run({"LPUSH", storage::DriftAlertsKey(), newer.dump()});
  Refresh();
  r = Get("/v1/drift");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  body = json::parse(r.body());
  EXPECT_EQ(body["segments"], report["segments"]);
  EXPECT_EQ(body["psi_state"], "alert");
  EXPECT_EQ(body["evaluated_through_ms"], kAsOf);
  EXPECT_EQ(body["alerts"], json::array({newer, older}));
  EXPECT_EQ(Get("/v1/drift?n=3").result_int(), 400);  // no parameters

  // A report that is not the evaluator's JSON is reported, not served as if it were.
  Run({"SET", storage::DriftReportKey(), "not json"});
  Refresh();
  EXPECT_EQ(Get("/v1/segments").result_int(), 500);
  EXPECT_EQ(Get("/v1/drift").result_int(), 500);
}

TEST_F(SegmentsApiTest, BeforeTheFirstSnapshotItIs503) {
  EXPECT_EQ(Get("/v1/segments").result_int(), 503);
  EXPECT_EQ(Get("/v1/customers/1").result_int(), 503);
  EXPECT_EQ(Get("/v1/export/customers.csv").result_int(), 503);
}

const Written& Find(const std::vector<Written>& written, const std::string& id) {
  for (const Written& w : written) {
    if (w.id == id) return w;
  }
  throw std::invalid_argument("not written: " + id);
}

TEST_F(SegmentsApiTest, CustomerIsReadThroughWithFeaturesInOriginalUnits) {
  WritePipeline();
  Refresh();
  const StringResponse r = Get("/v1/customers/17850");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  const json body = json::parse(r.body());
  const stream::CustomerState& c = Find(written_, "17850").state;
  EXPECT_EQ(body["customer_id"], "17850");
  EXPECT_EQ(body["segment"], 0);
  EXPECT_EQ(body["label"], "Champions");
  EXPECT_DOUBLE_EQ(body["distance"].get<double>(), c.distance);
  EXPECT_EQ(body["model_version"], 4);
  EXPECT_EQ(body["as_of_ms"], kAsOf);
  EXPECT_EQ(body["partition"], 0);
  // DESIGN §3's features at the model's as-of time, from the written totals.
  const double frequency = static_cast<double>(c.sale_checkouts);
  const std::map<std::string, double> expected = {
      {"recency_days", static_cast<double>(kAsOf - c.last_sale_ms) / kDayMs},
      {"frequency", frequency},
      {"monetary", static_cast<double>(c.sales_micros - c.returns_micros) / 1e6},
      {"mean_basket_value", static_cast<double>(c.sales_micros) / 1e6 / frequency},
      {"mean_distinct_items", static_cast<double>(c.distinct_items) / frequency},
      {"return_rate",
       static_cast<double>(c.returned_units) / static_cast<double>(c.units + c.returned_units)}};
  ASSERT_EQ(body["features"].size(), 6u);
  for (const auto& [name, value] : expected) {
    EXPECT_NEAR(body["features"][name].get<double>(), value, 1e-9 * (1 + std::fabs(value))) << name;
  }
  EXPECT_EQ(body["features_scaled"], json({1.234567, -0.00005, 0.0, 2.0, -1.0, 0.000007}));

  // An id that needs percent-encoding, in another partition.
  const StringResponse quoted = Get("/v1/customers/a%2Cb%22c");
  ASSERT_EQ(quoted.result_int(), 200) << quoted.body();
  EXPECT_EQ(json::parse(quoted.body())["customer_id"], "a,b\"c");
  EXPECT_EQ(json::parse(quoted.body())["partition"], 2);
  EXPECT_EQ(json::parse(quoted.body())["label"], "New");
}

TEST_F(SegmentsApiTest, CustomerErrors) {
  WritePipeline();
  Refresh();
  for (const char* id : {"nobody", "13047" /* not assigned yet */, "RET1" /* returns only */}) {
    const StringResponse r = Get(std::string("/v1/customers/") + id);
    EXPECT_EQ(r.result_int(), 404) << id;
    EXPECT_EQ(r[http::field::content_type], "application/json");
    EXPECT_EQ(json::parse(r.body())["error"]["code"], 404) << r.body();
  }
  EXPECT_EQ(Get("/v1/customers/17850", http::verb::post).result_int(), 405);
  EXPECT_EQ(Get("/v1/segments", http::verb::delete_).result_int(), 405);
  EXPECT_EQ(Get("/v1/export/customers.csv", http::verb::put).result_int(), 405);
  EXPECT_EQ(Get("/v1/customers/17850?verbose=1").result_int(), 400);
  EXPECT_EQ(Get("/v1/segments?k=3").result_int(), 400);

  // A record that does not decode is a 500 naming it, not a crash.
  Run({"HSET", storage::CustomersKey(1), "broken", "c1 not a customer"});
  const StringResponse broken = Get("/v1/customers/broken");
  EXPECT_EQ(broken.result_int(), 500);
  EXPECT_THAT(broken.body(), HasSubstr("broken"));
  // A model that does not decode: /v1/segments says so, /metrics still answers.
  Run({"SET", storage::ModelKey(), "m1 garbage"});
  Refresh();
  const StringResponse segments = Get("/v1/segments");
  EXPECT_EQ(segments.result_int(), 500);
  EXPECT_THAT(segments.body(), HasSubstr("{model}:current"));
  EXPECT_EQ(Get("/metrics").result_int(), 200);
}

// Splits a CSV line written by the export (RFC 4180 quoting).
std::vector<std::string> CsvFields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        out.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.emplace_back();
    } else {
      out.back() += ch;
    }
  }
  return out;
}

TEST_F(SegmentsApiTest, ExportStreamsEverySegmentedCustomerOnce) {
  WritePipeline();
  Refresh();
  const StringResponse r = Get("/v1/export/customers.csv");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_THAT(std::string(r[http::field::content_type]), StartsWith("text/csv"));
  EXPECT_EQ(r[http::field::transfer_encoding], "chunked");
  std::istringstream lines(r.body());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(line,
            "customer_id,segment,recency_days,frequency,monetary,mean_basket_value,"
            "mean_distinct_items,return_rate");
  std::map<std::string, int> rows;
  while (std::getline(lines, line)) {
    const auto fields = CsvFields(line);
    ASSERT_EQ(fields.size(), 8u) << line;
    ++rows[fields[0]];
    const Written& w = Find(written_, fields[0]);
    EXPECT_EQ(std::stoi(fields[1]), w.state.segment) << line;
    for (int j = 0; j < 6; ++j) {
      EXPECT_NEAR(std::stod(fields[2 + j]), static_cast<double>(w.state.quantized[j]) / 1e6, 1e-12)
          << line;
    }
    if (fields[0] == "17850") {
      EXPECT_EQ(line, "17850,0,1.234567,-0.000050,0.000000,2.000000,-1.000000,0.000007");
    }
    if (fields[0] == "a,b\"c") {
      EXPECT_THAT(line, StartsWith("\"a,b\"\"c\",2,"));
    }
  }
  std::set<std::string> segmented;
  for (const Written& w : written_) {
    if (w.state.segment >= 0) segmented.insert(w.id);
  }
  EXPECT_EQ(rows.size(), segmented.size());
  for (const auto& [id, n] : rows) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_TRUE(segmented.count(id)) << id;
  }
  // HEAD: the header a GET gets, no body.
  const StringResponse head = Get("/v1/export/customers.csv", http::verb::head);
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_TRUE(head.body().empty());
}

TEST_F(SegmentsApiTest, ExportOfACorruptRecordEndsIncomplete) {
  WritePipeline();
  Run({"HSET", storage::CustomersKey(2), "broken", "c1 not a customer"});
  Refresh();
  TestClient client(server_->port());
  StringResponse r;
  // The 200 header is out before the broken page is read: the body is cut short instead.
  EXPECT_TRUE(client.Call(http::verb::get, "/v1/export/customers.csv", r));
}

}  // namespace
}  // namespace segstream::serve
