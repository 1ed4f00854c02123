// The dashboard at `/` (issue 8): static HTML/JS/CSS from serve/dashboard/, embedded into the
// binary at build time (embed_assets.cmake), so a running instance needs no file, CDN or network.
// The page itself only calls the JSON API of DESIGN §6 and degrades panel by panel when an
// endpoint is missing (404) or a window is not served (501).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "serve/router.h"

namespace segstream::serve {

struct EmbeddedAsset {
  std::string_view name;  // file name in serve/dashboard/, e.g. "app.js"
  std::string_view etag;  // quoted strong validator from the content's SHA-256, e.g. "\"3fa1…\""
  std::string_view bytes;
};

namespace detail {
// Defined in the generated dashboard_assets.cc.
extern const EmbeddedAsset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;
}  // namespace detail

// Every embedded file, sorted by name.
std::span<const EmbeddedAsset> DashboardAssets();
// By file extension: text/html, text/javascript, text/css, image/svg+xml, ... (UTF-8 for text);
// application/octet-stream when unknown.
std::string_view ContentTypeFor(std::string_view name);

// Adds `GET /` (index.html) and `GET /<name>` for every other asset. Responses carry the ETag and
// `Cache-Control: no-cache` (a browser revalidates on each load and gets a 304 while the binary
// is unchanged, and a new binary's page at once), plus `X-Content-Type-Options: nosniff` and a
// Content-Security-Policy that allows only same-origin scripts, styles and connections.
void RegisterDashboard(Router& router);

}  // namespace segstream::serve
