#include "serve/serve_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "serve/sse.h"
#include "serve/test_client.h"
#include "storage/redis_child.h"

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace http = boost::beast::http;

std::shared_ptr<const Snapshot> HandBuiltSnapshot() {
  storage::PipelineStatus st;
  st.events_processed = 100;
  st.dlq_events = 3;
  st.dlq_reasons = {{"negative_price", 2}, {"no_lines", 1}};
  st.partitions["checkouts:0"] = {.committed_offset = 40, .high_watermark = 50};
  st.partitions["item-sales:1"] = {.committed_offset = -1, .high_watermark = 7};
  st.partitions["checkouts:2"] = {.committed_offset = -1, .high_watermark = -1};
  st.max_event_ms = 2'000'000;
  st.min_partition_max_event_ms = 1'000'000;
  st.item_sales_produced = 250;
  st.item_sales_applied = 240;
  st.item_sales_duplicates = 5;
  st.replay_known = true;
  st.replay_done = true;
  st.replay_events = 103;
  std::vector<storage::ItemCounts> items(2);
  items[0].sku = "A";
  items[0].orders = 3;
  items[1].sku = "B";
  items[1].orders = 1;
  stream::WindowOptions windows;
  windows.allowed_lateness_ms = 300'000;
  return BuildSnapshot(std::move(st), std::move(items), {}, windows);
}

TEST(ServeMetricsTest, CollectCopiesThePipelineState) {
  ServeMetrics metrics;
  auto snap = HandBuiltSnapshot();
  metrics.Collect(snap.get(), nullptr, snap->built_at + std::chrono::milliseconds(1500));
  const std::string text = metrics.registry().Render();
  // Expected values by hand from HandBuiltSnapshot.
  EXPECT_THAT(text, HasSubstr("\nsegstream_events_consumed_total 103\n"));  // 100 + 3
  EXPECT_THAT(text, HasSubstr("\nsegstream_events_processed_total 100\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE segstream_dlq_total counter\n"
                              "segstream_dlq_total{reason=\"negative_price\"} 2\n"
                              "segstream_dlq_total{reason=\"no_lines\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("segstream_consumer_lag{topic=\"checkouts\",partition=\"0\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("segstream_consumer_lag{topic=\"checkouts\",partition=\"2\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("segstream_consumer_lag{topic=\"item-sales\",partition=\"1\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_consumer_lag_total_records 17\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_watermark_ms 700000\n"));  // 1,000,000 - 300,000
  EXPECT_THAT(text, HasSubstr("\nsegstream_max_event_time_ms 2000000\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_item_sales_produced_total 250\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_item_sales_applied_total 240\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_item_sales_duplicates_dropped_total 5\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_items 2\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_replay_done 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_replay_events 103\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_snapshot_up 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_snapshot_age_seconds 1.5\n"));
}

TEST(ServeMetricsTest, BatchCommitHistogramComesFromTheSnapshotByStage) {
  storage::PipelineStatus st;
  // Buckets as stored (cumulative, per storage::kCommitBucketBounds: 0.0001 ... 2.5, 14 bounds):
  // three checkouts commits of 0.2 ms, 0.8 ms and 4 s, one item-sales commit of 30 ms.
  st.commit_durations["checkouts"] = {
      .cumulative = {0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, .count = 3, .sum_us = 4'001'000};
  st.commit_durations["item-sales"] = {
      .cumulative = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, .count = 1, .sum_us = 30'000};
  auto snap = BuildSnapshot(std::move(st), {}, {}, {});
  ServeMetrics metrics;
  metrics.Collect(snap.get(), nullptr, snap->built_at);
  const std::string text = metrics.registry().Render();
  EXPECT_THAT(
      text,
      HasSubstr("# TYPE segstream_batch_commit_seconds histogram\n"
                "segstream_batch_commit_seconds_bucket{stage=\"checkouts\",le=\"0.0001\"} 0\n"
                "segstream_batch_commit_seconds_bucket{stage=\"checkouts\",le=\"0.00025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("{stage=\"checkouts\",le=\"0.001\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("{stage=\"checkouts\",le=\"2.5\"} 2\n"
                        "segstream_batch_commit_seconds_bucket{stage=\"checkouts\",le=\"+Inf\"} 3\n"
                        "segstream_batch_commit_seconds_sum{stage=\"checkouts\"} 4.001\n"
                        "segstream_batch_commit_seconds_count{stage=\"checkouts\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("{stage=\"item-sales\",le=\"0.025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("{stage=\"item-sales\",le=\"0.05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("segstream_batch_commit_seconds_sum{stage=\"item-sales\"} 0.03\n"));
}

TEST(ServeMetricsTest, WithoutSnapshotOnlyReportsItIsMissing) {
  ServeMetrics metrics;
  metrics.Collect(nullptr, nullptr, std::chrono::system_clock::now());
  const std::string text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("segstream_snapshot_up 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("segstream_events_consumed_total")));
  EXPECT_THAT(text, Not(HasSubstr("segstream_watermark_ms")));
  EXPECT_THAT(text, Not(HasSubstr("segstream_redis_up")));  // no probe has run
}

TEST(ServeMetricsTest, SseCountersAreMirrored) {
  ServeMetrics metrics;
  SseHub hub;
  hub.Publish("top-items", "{}");
  hub.Publish("top-items", "{}");
  hub.CountDrop();
  metrics.Collect(nullptr, &hub, std::chrono::system_clock::now());
  const std::string text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("\nsegstream_sse_clients 0\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_sse_events_published_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\nsegstream_sse_clients_dropped_total 1\n"));
}

TEST(ServeMetricsTest, HttpObserverCountsByCodeAndTimesByRoute) {
  ServeMetrics metrics;
  auto observe = metrics.HttpObserver();
  observe({"GET", "/v1/status", 200, std::chrono::microseconds(80)});
  observe({"GET", "/v1/status", 200, std::chrono::microseconds(300)});
  observe({"GET", "", 404, std::chrono::microseconds(20)});
  observe({"", "", 400, std::chrono::microseconds(5)});
  const std::string text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("segstream_http_requests_total{code=\"200\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("segstream_http_requests_total{code=\"400\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("segstream_http_requests_total{code=\"404\"} 1\n"));
  // 80 us lies in (50 us, 100 us], 300 us in (250 us, 500 us] (LatencyBuckets).
  EXPECT_THAT(text, HasSubstr("segstream_http_request_duration_seconds_bucket{route=\"/v1/"
                              "status\",le=\"0.00005\"} 0\n"
                              "segstream_http_request_duration_seconds_bucket{route=\"/v1/"
                              "status\",le=\"0.0001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("segstream_http_request_duration_seconds_bucket{route=\"/v1/"
                              "status\",le=\"0.0005\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("segstream_http_request_duration_seconds_count{route=\"unmatched\"} 2\n"));
}

TEST(ServeMetricsTest, RedisProbeMeasuresPingAndReportsDown) {
  ServeMetrics metrics;
  storage::RedisChild redis;
  ASSERT_TRUE(redis.Start().ok());
  RedisProbeOptions options;
  options.redis = {redis.host(), redis.port(), std::chrono::milliseconds(2000)};
  RedisProbe probe(options, metrics.RedisObserver());
  probe.ProbeOnce();
  probe.ProbeOnce();
  std::string text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("segstream_redis_rtt_seconds_count 2\n"));
  EXPECT_THAT(text, HasSubstr("segstream_redis_up 1\n"));
  redis.Stop();
  probe.ProbeOnce();  // the old connection breaks
  probe.ProbeOnce();  // and reconnecting fails
  text = metrics.registry().Render();
  EXPECT_THAT(text, HasSubstr("segstream_redis_rtt_seconds_count 2\n"));
  EXPECT_THAT(text, HasSubstr("segstream_redis_up 0\n"));
  EXPECT_THAT(text, HasSubstr("segstream_redis_probe_errors_total 2\n"));
}

TEST(ServeMetricsTest, MetricsRouteOverHttpCountsItsOwnRequests) {
  ServeMetrics metrics;
  SnapshotCacheOptions cache_options;  // never started: no snapshot
  SnapshotCache cache(cache_options);
  Router router;
  RegisterMetrics(router, &metrics, {&cache, nullptr});
  HttpServerOptions options;
  options.port = 0;
  HttpServer server(std::move(router), options, metrics.HttpObserver());
  ASSERT_TRUE(server.Start().ok());
  testing::TestClient client(server.port());
  testing::StringResponse response;
  ASSERT_FALSE(client.Call(http::verb::get, "/nope", response));
  EXPECT_EQ(response.result_int(), 404);
  ASSERT_FALSE(client.Call(http::verb::get, "/metrics", response));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(response.body(), HasSubstr("segstream_snapshot_up 0\n"));
  EXPECT_THAT(response.body(), HasSubstr("segstream_http_requests_total{code=\"404\"} 1\n"));
  // The observer runs when a response is ready, after the body was rendered: the second scrape
  // sees the first.
  ASSERT_FALSE(client.Call(http::verb::get, "/metrics", response));
  EXPECT_THAT(response.body(), HasSubstr("segstream_http_requests_total{code=\"200\"} 1\n"));
  server.Stop();
}

}  // namespace
}  // namespace segstream::serve
