#include "serve/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <variant>

namespace segstream::serve {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "/a/b" into {"a","b"} ("/" gives {""}); the leading '/' must already be checked.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Error messages echo client input; keep them short so a huge target cannot bloat a response.
std::string Clip(std::string_view text) {
  constexpr size_t kMax = 120;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

// Runs a handler; a throw or an impossible status becomes a 500.
Response RunHandler(const Handler& handler, const Request& request, const std::string& route) {
  try {
    Response response = handler(request);
    if (response.status < 100 || response.status > 599) {
      spdlog::error("handler for {} returned status {}", route, response.status);
      return JsonError(500, "internal error: handler returned an invalid status");
    }
    return response;
  } catch (const std::exception& e) {
    spdlog::error("handler for {} {} threw: {}", request.method, Clip(request.target), e.what());
  } catch (...) {
    spdlog::error("handler for {} {} threw a non-std exception", request.method,
                  Clip(request.target));
  }
  return JsonError(500, "internal error");
}

}  // namespace

std::string_view Request::PathParam(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

Response JsonResponse(const nlohmann::json& body, int status) {
  Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

Response JsonError(int status, std::string_view message) {
  nlohmann::json body;
  body["error"]["code"] = status;
  body["error"]["message"] = std::string(message);
  return JsonResponse(body, status);
}

Response ErrorResponse(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return JsonError(400, status.message());
    case StatusCode::kNotFound:
      return JsonError(404, status.message());
    case StatusCode::kUnavailable:
      return JsonError(503, status.message());
    case StatusCode::kTimeout:
      return JsonError(504, status.message());
    default:
      return JsonError(500, status.message());
  }
}

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("malformed percent-encoding in '" + Clip(text) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Status ParseTarget(std::string_view target, Request& request) {
  request.path.clear();
  request.query.clear();
  std::string_view rest = target;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (rest.size() >= scheme.size() && EqualsIgnoreCase(rest.substr(0, scheme.size()), scheme)) {
      rest.remove_prefix(scheme.size());
      const size_t path_start = rest.find_first_of("/?#");
      rest = path_start == std::string_view::npos ? std::string_view("/") : rest.substr(path_start);
      if (!rest.empty() && rest.front() != '/') {
        request.path = "/";  // "http://host?x" has an empty path, which means "/"
      }
      break;
    }
  }
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  const size_t qmark = rest.find('?');
  request.path += std::string(rest.substr(0, qmark));
  if (request.path.empty() || request.path.front() != '/') {
    return Status::InvalidArgument("request target must start with '/': '" + Clip(target) + "'");
  }
  if (qmark == std::string_view::npos) return Status::Ok();
  std::string_view query = rest.substr(qmark + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2" and a trailing '&' are harmless
    const size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    if (!key.ok()) return key.status();
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!value.ok()) return value.status();
    request.query.emplace_back(std::move(key).value(), std::move(value).value());
  }
  return Status::Ok();
}

struct Router::Route {
  struct Segment {
    bool param = false;
    std::string text;  // literal text, or the parameter name
  };
  std::string pattern;
  std::string shape;  // pattern with parameter names erased: two routes with one shape conflict
  std::vector<Segment> segments;
  struct Blocking {
    Handler handler;
  };
  std::map<std::string, std::variant<Handler, SseHub*, Blocking>, std::less<>> methods;
};

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  if (method.empty() || !handler) throw std::invalid_argument("route needs a method and a handler");
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  auto route = std::make_unique<Route>();
  route->pattern = std::string(pattern);
  for (std::string_view segment : SplitPath(pattern)) {
    Route::Segment s;
    if (!segment.empty() && segment.front() == '{') {
      const std::string_view name = segment.substr(1, segment.size() - 2);
      const bool valid_name = segment.back() == '}' && !name.empty() &&
                              std::all_of(name.begin(), name.end(), [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                              });
      if (!valid_name) {
        throw std::invalid_argument("bad parameter segment in route pattern: " + route->pattern);
      }
      s.param = true;
      s.text = std::string(name);
      route->shape += "/{}";
    } else {
      if (segment.find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("braces must span a whole segment: " + route->pattern);
      }
      s.text = std::string(segment);
      route->shape += "/" + s.text;
    }
    route->segments.push_back(std::move(s));
  }
  Route* target = nullptr;
  for (auto& existing : routes_) {
    if (existing->shape == route->shape) {
      if (existing->pattern != route->pattern) {
        throw std::invalid_argument("route " + route->pattern + " is ambiguous with " +
                                    existing->pattern);
      }
      target = existing.get();
    }
  }
  if (target == nullptr) {
    routes_.push_back(std::move(route));
    target = routes_.back().get();
  }
  if (!target->methods.emplace(std::string(method), std::move(handler)).second) {
    throw std::invalid_argument("duplicate route " + std::string(method) + " " + target->pattern);
  }
}

void Router::GetBlocking(std::string_view pattern, Handler handler) {
  if (!handler) throw std::invalid_argument("route needs a method and a handler");
  // Registered as an ordinary GET first so pattern validation and conflicts are shared.
  Add("GET", pattern, [](const Request&) { return Response{}; });
  for (auto& route : routes_) {
    if (route->pattern == pattern) route->methods["GET"] = Route::Blocking{std::move(handler)};
  }
}

void Router::AddEventStream(std::string_view pattern, SseHub& hub) {
  // Registered as an ordinary GET first so pattern validation and conflicts are shared.
  Add("GET", pattern, [](const Request&) { return Response{}; });
  for (auto& route : routes_) {
    if (route->pattern == pattern) route->methods["GET"] = &hub;
  }
}

Dispatch Router::Handle(Request& request) const {
  Dispatch dispatch;
  if (Status status = ParseTarget(request.target, request); !status.ok()) {
    dispatch.response = ErrorResponse(status);
    return dispatch;
  }
  std::vector<std::string> decoded;
  for (std::string_view raw : SplitPath(request.path)) {
    auto segment = PercentDecode(raw, false);
    if (!segment.ok()) {
      dispatch.response = ErrorResponse(segment.status());
      return dispatch;
    }
    decoded.push_back(std::move(segment).value());
  }

  const Route* best = nullptr;
  for (const auto& route : routes_) {
    if (route->segments.size() != decoded.size()) continue;
    bool match = true;
    for (size_t i = 0; i < decoded.size() && match; ++i) {
      const auto& s = route->segments[i];
      match = s.param ? !decoded[i].empty() : s.text == decoded[i];
    }
    if (!match) continue;
    if (best == nullptr) {
      best = route.get();
      continue;
    }
    for (size_t i = 0; i < decoded.size(); ++i) {  // first difference decides: literal wins
      if (route->segments[i].param != best->segments[i].param) {
        if (!route->segments[i].param) best = route.get();
        break;
      }
    }
  }
  if (best == nullptr) {
    dispatch.response = JsonError(404, "no route for " + Clip(request.path));
    return dispatch;
  }
  dispatch.route = best->pattern;

  auto method = best->methods.find(request.method);
  if (method == best->methods.end() && request.method == "HEAD") method = best->methods.find("GET");
  if (method == best->methods.end()) {
    std::string allow;
    for (const auto& [name, unused] : best->methods) {
      allow += (allow.empty() ? "" : ", ") + name;
      if (name == "GET" && !best->methods.contains("HEAD")) allow += ", HEAD";
    }
    dispatch.response = JsonError(405, "method " + Clip(request.method) + " not allowed on " +
                                           best->pattern + "; allowed: " + allow);
    dispatch.response.headers.emplace_back("Allow", allow);
    return dispatch;
  }

  request.path_params.clear();
  for (size_t i = 0; i < decoded.size(); ++i) {
    if (best->segments[i].param)
      request.path_params[best->segments[i].text] = std::move(decoded[i]);
  }
  if (auto* hub = std::get_if<SseHub*>(&method->second)) {
    dispatch.sse = *hub;
    return dispatch;
  }
  if (auto* blocking = std::get_if<Route::Blocking>(&method->second)) {
    // The router outlives every server using it (and so every pending blocking call).
    dispatch.blocking = [handler = &blocking->handler, request, route = best->pattern] {
      return RunHandler(*handler, request, route);
    };
    return dispatch;
  }
  dispatch.response = RunHandler(std::get<Handler>(method->second), request, best->pattern);
  return dispatch;
}

}  // namespace segstream::serve
