#include "serve/dashboard.h"

#include <array>
#include <string>
#include <utility>

namespace segstream::serve {

namespace {

constexpr std::string_view kIndex = "index.html";
// Same-origin only: the page must work with no network beyond this server. Inline SVG is markup,
// not a resource, so it needs no source; `data:` is for the inline favicon.
constexpr std::string_view kCsp =
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

// RFC 9110 §13.1.2: If-None-Match holds "*" or a list of entity tags; weak ones (W/"…") compare
// weakly, which for GET is what the spec asks.
bool EtagMatches(std::string_view header, std::string_view etag) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view tag = header.substr(pos, end - pos);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    pos = end + 1;
  }
  return false;
}

Response ServeAsset(const EmbeddedAsset& asset, const Request& request) {
  Response response;
  response.headers = {{"ETag", std::string(asset.etag)},
                      {"Cache-Control", "no-cache"},
                      {"X-Content-Type-Options", "nosniff"}};
  response.content_type = std::string(ContentTypeFor(asset.name));
  if (asset.name == kIndex) response.headers.emplace_back("Content-Security-Policy", kCsp);
  if (auto inm = request.Header("If-None-Match"); inm && EtagMatches(*inm, asset.etag)) {
    response.status = 304;
    return response;
  }
  response.body = std::string(asset.bytes);
  return response;
}

}  // namespace

std::span<const EmbeddedAsset> DashboardAssets() {
  return {detail::kEmbeddedAssets, detail::kEmbeddedAssetCount};
}

std::string_view ContentTypeFor(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".json", "application/json"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  }};
  for (const auto& [ext, type] : kTypes) {
    if (name.size() > ext.size() && name.substr(name.size() - ext.size()) == ext) return type;
  }
  return "application/octet-stream";
}

void RegisterDashboard(Router& router) {
  for (const EmbeddedAsset& asset : DashboardAssets()) {
    const EmbeddedAsset* a = &asset;  // static storage: outlives every router
    auto handler = [a](const Request& request) { return ServeAsset(*a, request); };
    if (asset.name == kIndex) router.Get("/", handler);
    std::string path = "/";  // built by append: `"/" + std::string` trips GCC 12's -Wrestrict
    path += asset.name;
    router.Get(path, handler);
  }
}

}  // namespace segstream::serve
