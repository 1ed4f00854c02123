// Transport-free request routing: the HTTP server parses bytes into a `Request`, the router picks
// the handler by method and path pattern, and every failure becomes a JSON error body
// (DESIGN §6: `{"error":{"code":…,"message":…}}`). Nothing here knows about sockets, so handlers
// and routing are testable without a server.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stream/status.h"

namespace segstream::serve {

class SseHub;

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // as sent, e.g. "GET"; methods are case-sensitive (RFC 9110 §9.1)
  std::string target;  // raw request-target, e.g. "/v1/items/A%20B?window=all"
  std::string path;    // raw (still percent-encoded) path part of `target`
  Fields query;        // decoded query parameters in order; duplicates kept (params.h rejects them)
  std::map<std::string, std::string, std::less<>> path_params;  // decoded `{name}` segments
  Fields headers;                                               // as received
  std::string body;
  std::string remote;  // peer address "ip:port", for logs only

  // Value of a path parameter; empty when the route has no such `{name}`.
  std::string_view PathParam(std::string_view name) const;
  // First header with this name (case-insensitive, RFC 9110 §5.1), if any.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// A response body produced piece by piece, for answers too big to hold in memory (the customer
// export). The server sends it with the chunked transfer coding (RFC 9112 §7.1) and calls Next()
// on its blocking pool, never on an I/O thread, one call at a time, so Next() may wait on Redis.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The next piece (an empty piece is skipped), std::nullopt after the last one. An error aborts
  // the response: the server closes the connection without the terminating chunk, so the client
  // sees an incomplete body instead of a complete-looking short one (RFC 9112 §7.1, §8).
  virtual Result<std::optional<std::string>> Next() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Fields headers;  // extra headers; names/values with CR or LF are dropped by the server
  // When set, the body comes from the stream and `body` is ignored (HTTP/1.0 clients, which know
  // no chunked coding, get the stream gathered into one body).
  std::shared_ptr<BodyStream> stream;
};

// `body.dump()` with status; invalid UTF-8 in strings is replaced (U+FFFD) instead of throwing.
Response JsonResponse(const nlohmann::json& body, int status = 200);
// `{"error":{"code":status,"message":message}}`.
Response JsonError(int status, std::string_view message);
// Maps a Status to the matching HTTP error: InvalidArgument 400, NotFound 404, Unavailable 503,
// Timeout 504, anything else 500.
Response ErrorResponse(const Status& status);

// Decodes %XX escapes (and '+' as space when `plus_is_space`, the form encoding of query
// strings, WHATWG URL §5.1). Malformed escapes ("%4", "%G1") are an InvalidArgument.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);
// Encodes every byte outside RFC 3986 `unreserved` as %XX, so a value round-trips as one segment.
std::string PercentEncode(std::string_view text);

// Fills `path` and `query` from `target`. Accepts origin-form ("/p?q") and absolute-form
// ("http://host/p?q", RFC 9112 §3.2.2); anything else, or a malformed escape in the query, is an
// InvalidArgument.
Status ParseTarget(std::string_view target, Request& request);

using Handler = std::function<Response(const Request&)>;

// What the server should do with a request.
struct Dispatch {
  std::string route;      // matched pattern ("/v1/items/{sku}"), "" when none: a bounded label
  SseHub* sse = nullptr;  // set for an event-stream route: the server hands the connection over
  // Set for a blocking route (Router::GetBlocking): the handler, bound to a copy of the request,
  // not run yet; the server runs it on its blocking pool. Same error handling as `response`.
  std::function<Response()> blocking;
  Response response;  // the answer when `sse` and `blocking` are null
};

// Routes by method and path pattern. A pattern is a sequence of '/'-separated segments; a segment
// `{name}` matches exactly one non-empty path segment, percent-decoded (so "%2F" inside a sku is
// data, not a separator). Literal segments compare against the decoded segment, so "%74op" is
// "top" (RFC 3986 §6.2.2.2). When several patterns match, the most specific wins: compared segment
// by segment from the left, a literal beats a parameter ("/v1/items/top" over "/v1/items/{sku}"),
// regardless of registration order. Method rules are then applied to that pattern only: a GET
// handler also answers HEAD (the server drops the body), an unregistered method is a 405 with
// `Allow`, no matching pattern a 404. A handler that throws yields a 500 JSON error.
//
// Set-up (Add*) is not thread-safe; Handle() is const and may run on many threads at once, so
// handlers must be thread-safe too.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Throws std::invalid_argument for a malformed pattern or a duplicate (method, pattern): these
  // are start-up programming errors.
  void Add(std::string_view method, std::string_view pattern, Handler handler);
  void Get(std::string_view pattern, Handler handler) { Add("GET", pattern, std::move(handler)); }
  // A GET route whose handler may wait (on Redis): the server runs it on its blocking pool, off
  // the I/O threads (http_server.h), instead of inside Handle().
  void GetBlocking(std::string_view pattern, Handler handler);
  // A GET route whose clients receive `hub`'s events (sse.h). The hub must outlive every server
  // that uses this router.
  void AddEventStream(std::string_view pattern, SseHub& hub);

  // Parses the target (400 on a bad one), matches, fills `request.path_params`, runs the handler
  // (or, for a blocking route, returns it bound in `Dispatch::blocking`).
  Dispatch Handle(Request& request) const;

 private:
  struct Route;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace segstream::serve
