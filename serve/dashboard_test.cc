#include "serve/dashboard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Request Get(std::string target, Fields headers = {}) {
  Request request;
  request.method = "GET";
  request.target = std::move(target);
  request.headers = std::move(headers);
  return request;
}

std::string HeaderOf(const Response& response, std::string_view name) {
  for (const auto& [k, v] : response.headers) {
    if (k == name) return v;
  }
  return "";
}

Router DashboardRouter() {
  Router router;
  RegisterDashboard(router);
  return router;
}

TEST(DashboardTest, EmbedsEveryFileOfTheDashboardFolderByteForByte) {
  // The files on disk are the independent reference for what the build embedded.
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(SEGSTREAM_DASHBOARD_DIR)) {
    if (entry.is_regular_file()) on_disk.insert(entry.path().filename().string());
  }
  std::set<std::string> embedded;
  for (const EmbeddedAsset& asset : DashboardAssets()) {
    embedded.insert(std::string(asset.name));
    EXPECT_EQ(asset.bytes, ReadFile(std::filesystem::path(SEGSTREAM_DASHBOARD_DIR) / asset.name))
        << asset.name;
    ASSERT_GE(asset.etag.size(), 3u);
    EXPECT_EQ(asset.etag.front(), '"');
    EXPECT_EQ(asset.etag.back(), '"');
  }
  EXPECT_EQ(embedded, on_disk);
  EXPECT_TRUE(embedded.count("index.html"));
  EXPECT_TRUE(embedded.count("app.js"));
  EXPECT_TRUE(embedded.count("style.css"));
}

TEST(DashboardTest, ServesIndexAtRootWithTypesAndCacheHeaders) {
  Router router = DashboardRouter();
  Request request = Get("/");
  Dispatch d = router.Handle(request);
  EXPECT_EQ(d.response.status, 200);
  EXPECT_EQ(d.response.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(d.response.body, HasSubstr("<!doctype html>"));
  EXPECT_EQ(HeaderOf(d.response, "Cache-Control"), "no-cache");
  EXPECT_EQ(HeaderOf(d.response, "X-Content-Type-Options"), "nosniff");
  EXPECT_THAT(HeaderOf(d.response, "Content-Security-Policy"), HasSubstr("default-src 'self'"));
  EXPECT_FALSE(HeaderOf(d.response, "ETag").empty());

  Request js = Get("/app.js");
  EXPECT_EQ(router.Handle(js).response.content_type, "text/javascript; charset=utf-8");
  Request css = Get("/style.css");
  EXPECT_EQ(router.Handle(css).response.content_type, "text/css; charset=utf-8");
  Request missing = Get("/nope.js");
  EXPECT_EQ(router.Handle(missing).response.status, 404);
}

TEST(DashboardTest, EveryLocalReferenceOfThePageResolves) {
  // What the browser will request: src= and href= values that start with '/'.
  Router router = DashboardRouter();
  Request request = Get("/");
  const std::string html = router.Handle(request).response.body;
  const std::regex ref(R"re((?:src|href)="(/[^"]*)")re");
  int count = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator();
       ++it) {
    const std::string path = (*it)[1];
    if (path.rfind("/v1/", 0) == 0 || path == "/metrics") continue;  // API links, not assets
    Request asset = Get(path);
    EXPECT_EQ(router.Handle(asset).response.status, 200) << path;
    ++count;
  }
  EXPECT_GE(count, 2);  // app.js and style.css at least
}

TEST(DashboardTest, NoAssetLoadsAnythingFromTheNetwork) {
  // No CDN, no web font, no analytics: the only absolute URL allowed is the SVG namespace.
  const std::regex remote(R"re((https?:)?//[a-zA-Z0-9.-]+\.[a-z]{2,})re");
  for (const EmbeddedAsset& asset : DashboardAssets()) {
    std::string text(asset.bytes);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), remote);
         it != std::sregex_iterator(); ++it) {
      EXPECT_EQ(it->str(), "http://www.w3.org") << asset.name << " refers to " << it->str();
    }
  }
}

TEST(DashboardTest, ConditionalGetAnswers304) {
  Router router = DashboardRouter();
  Request first = Get("/app.js");
  const Response full = router.Handle(first).response;
  const std::string etag = HeaderOf(full, "ETag");
  ASSERT_FALSE(etag.empty());

  Request same = Get("/app.js", {{"If-None-Match", etag}});
  const Response not_modified = router.Handle(same).response;
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_EQ(HeaderOf(not_modified, "ETag"), etag);

  Request listed = Get("/app.js", {{"if-none-match", "\"other\", W/" + etag}});
  EXPECT_EQ(router.Handle(listed).response.status, 304);
  Request star = Get("/app.js", {{"If-None-Match", "*"}});
  EXPECT_EQ(router.Handle(star).response.status, 304);
  Request stale = Get("/app.js", {{"If-None-Match", "\"stale\""}});
  EXPECT_EQ(router.Handle(stale).response.status, 200);
  // Another asset's validator does not match.
  Request other = Get("/style.css", {{"If-None-Match", etag}});
  EXPECT_EQ(router.Handle(other).response.status, 200);
}

TEST(DashboardTest, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("x.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeFor("noext"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor(".js"), "application/octet-stream");
}

}  // namespace
}  // namespace segstream::serve
