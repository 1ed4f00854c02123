#include "serve/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "serve/sse.h"

namespace segstream::serve {
namespace {

using ::testing::HasSubstr;

Request Make(std::string method, std::string target) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  return request;
}

// Every handler answers with the route it is and the path parameters it saw.
Router MakeRouter() {
  Router router;
  auto echo = [](std::string name) {
    return [name](const Request& r) {
      nlohmann::json body;
      body["route"] = name;
      for (const auto& [k, v] : r.path_params) body["params"][k] = v;
      return JsonResponse(body);
    };
  };
  router.Get("/v1/items/{sku}", echo("item"));
  router.Get("/v1/items/{sku}/together", echo("together"));
  router.Get("/v1/items/top", echo("top"));
  router.Get("/v1/customers/{id}", echo("customer"));
  router.Get("/", echo("root"));
  router.Add("POST", "/v1/admin", echo("admin-post"));
  router.Add("DELETE", "/v1/admin", echo("admin-delete"));
  router.Get("/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  router.Get("/throws-int", [](const Request&) -> Response { throw 42; });
  router.Get("/bad-status", [](const Request&) {
    Response response;
    response.status = 42;
    return response;
  });
  return router;
}

nlohmann::json Body(const Dispatch& d) { return nlohmann::json::parse(d.response.body); }

void ExpectJsonError(const Dispatch& d, int status) {
  EXPECT_EQ(d.response.status, status);
  EXPECT_EQ(d.response.content_type, "application/json");
  const auto body = Body(d);
  EXPECT_EQ(body["error"]["code"], status) << d.response.body;
  EXPECT_TRUE(body["error"]["message"].is_string()) << d.response.body;
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
}

TEST(RouterTest, MatchesLiteralAndParameterRoutes) {
  const Router router = MakeRouter();
  struct Case {
    std::string target;
    std::string route;
    std::string param_name;
    std::string param_value;
  };
  const std::vector<Case> cases = {
      {"/v1/items/85123A", "item", "sku", "85123A"},
      {"/v1/items/85123A?window=7d", "item", "sku", "85123A"},
      {"/v1/items/85123A/together?n=3", "together", "sku", "85123A"},
      {"/v1/customers/17850", "customer", "id", "17850"},
      {"/v1/items/top", "top", "", ""},         // literal beats {sku}
      {"/v1/items/%74op", "top", "", ""},       // %74 is 't': same resource (RFC 3986 §6.2.2.2)
      {"/v1/items/TOP", "item", "sku", "TOP"},  // literals are case-sensitive
      {"/", "root", "", ""},
      {"http://example.com/v1/items/X1?x=1", "item", "sku", "X1"},  // absolute-form
  };
  for (const auto& c : cases) {
    Request request = Make("GET", c.target);
    const Dispatch d = router.Handle(request);
    ASSERT_EQ(d.response.status, 200) << c.target << " " << d.response.body;
    const auto body = Body(d);
    EXPECT_EQ(body["route"], c.route) << c.target;
    if (!c.param_name.empty()) {
      EXPECT_EQ(body["params"][c.param_name], c.param_value) << c.target;
    }
  }
}

TEST(RouterTest, PercentDecodesSkuSegments) {
  const Router router = MakeRouter();
  // Encoded by hand (not with PercentEncode) so the expectation is independent of the code.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/v1/items/BANK%20CHARGES", "BANK CHARGES"},
      {"/v1/items/gift_0001_40", "gift_0001_40"},
      {"/v1/items/A%26B%3DC%3FD%23E", "A&B=C?D#E"},
      {"/v1/items/50%25off", "50%off"},
      {"/v1/items/a+b", "a+b"},  // '+' is only a space in query strings
      {"/v1/items/%C3%A9t%C3%A9", "\xC3\xA9t\xC3\xA9"},
      {"/v1/items/A%2FB", "A/B"},  // an encoded slash is data, not a separator
      {"/v1/items/%7Bsku%7D", "{sku}"},
  };
  for (const auto& [target, sku] : cases) {
    Request request = Make("GET", target);
    const Dispatch d = router.Handle(request);
    ASSERT_EQ(d.response.status, 200) << target;
    EXPECT_EQ(Body(d)["params"]["sku"], sku) << target;
    EXPECT_EQ(d.route, "/v1/items/{sku}");
    EXPECT_EQ(request.PathParam("sku"), sku);
  }
}

TEST(RouterTest, PercentEncodeRoundTripsThroughTheRouter) {
  const Router router = MakeRouter();
  std::string every_byte;
  for (int c = 1; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  Request request = Make("GET", "/v1/items/" + PercentEncode(every_byte) + "/together");
  const Dispatch d = router.Handle(request);
  ASSERT_EQ(d.response.status, 200);
  EXPECT_EQ(request.PathParam("sku"), every_byte);
}

TEST(RouterTest, UnknownPathsAre404) {
  const Router router = MakeRouter();
  for (const char* target : {"/nope", "/v1/items", "/v1/items/", "/v1/items/a/b/c",
                             "/v1/items/x/together/", "//v1/items/x", "/v1/customers/"}) {
    Request request = Make("GET", target);
    const Dispatch d = router.Handle(request);
    ExpectJsonError(d, 404);
    EXPECT_EQ(d.route, "") << target;
  }
}

TEST(RouterTest, WrongMethodIs405WithAllow) {
  const Router router = MakeRouter();
  Request post = Make("POST", "/v1/items/x");
  const Dispatch d = router.Handle(post);
  ExpectJsonError(d, 405);
  ASSERT_EQ(d.response.headers.size(), 1u);
  EXPECT_EQ(d.response.headers[0].first, "Allow");
  EXPECT_EQ(d.response.headers[0].second, "GET, HEAD");

  Request get = Make("GET", "/v1/admin");
  const Dispatch admin = router.Handle(get);
  ExpectJsonError(admin, 405);
  EXPECT_EQ(admin.response.headers[0].second, "DELETE, POST");

  Request lower = Make("get", "/v1/items/x");  // methods are case-sensitive
  ExpectJsonError(router.Handle(lower), 405);
}

TEST(RouterTest, HeadUsesTheGetHandler) {
  const Router router = MakeRouter();
  Request head = Make("HEAD", "/v1/items/x");
  const Dispatch d = router.Handle(head);
  EXPECT_EQ(d.response.status, 200);
  EXPECT_EQ(Body(d)["route"], "item");
}

TEST(RouterTest, HandlerFailuresAre500) {
  const Router router = MakeRouter();
  for (const char* target : {"/throws", "/throws-int", "/bad-status"}) {
    Request request = Make("GET", target);
    ExpectJsonError(router.Handle(request), 500);
  }
}

TEST(RouterTest, BadTargetsAre400) {
  const Router router = MakeRouter();
  for (const char* target : {"/v1/items/%zz", "/v1/items/%4", "/v1/items/x?n=%G1", "*",
                             "v1/items/x", "/v1/items/x?%=1"}) {
    Request request = Make("GET", target);
    ExpectJsonError(router.Handle(request), 400);
  }
}

TEST(RouterTest, ParsesQueryStrings) {
  Request request = Make("GET", "/p?a=1&b=x+y&c=%2C%26&&d&a=2&e=#frag");
  ASSERT_TRUE(ParseTarget(request.target, request).ok());
  EXPECT_EQ(request.path, "/p");
  const Fields expected = {{"a", "1"}, {"b", "x y"}, {"c", ",&"}, {"d", ""}, {"a", "2"}, {"e", ""}};
  EXPECT_EQ(request.query, expected);
}

TEST(RouterTest, HeaderLookupIsCaseInsensitive) {
  Request request;
  request.headers = {{"Content-Type", "text/plain"}, {"X-Id", "7"}};
  EXPECT_EQ(request.Header("content-type"), "text/plain");
  EXPECT_EQ(request.Header("X-ID"), "7");
  EXPECT_FALSE(request.Header("Accept").has_value());
}

TEST(RouterTest, RejectsBadOrConflictingPatterns) {
  Router router;
  const Handler h = [](const Request&) { return Response{}; };
  router.Get("/a/{x}", h);
  EXPECT_THROW(router.Get("/a/{x}", h), std::invalid_argument);  // duplicate
  EXPECT_THROW(router.Get("/a/{y}", h), std::invalid_argument);  // ambiguous with /a/{x}
  EXPECT_THROW(router.Get("a/b", h), std::invalid_argument);
  EXPECT_THROW(router.Get("/a/{}", h), std::invalid_argument);
  EXPECT_THROW(router.Get("/a/x{y}", h), std::invalid_argument);
  EXPECT_THROW(router.Get("/a/{y-z}", h), std::invalid_argument);
  EXPECT_NO_THROW(router.Add("POST", "/a/{x}", h));  // same pattern, other method
}

TEST(RouterTest, EventStreamRoutesAreHandedOver) {
  SseHub hub;
  Router router;
  router.AddEventStream("/v1/events", hub);
  Request get = Make("GET", "/v1/events");
  const Dispatch d = router.Handle(get);
  EXPECT_EQ(d.sse, &hub);
  EXPECT_EQ(d.route, "/v1/events");
  Request post = Make("POST", "/v1/events");
  ExpectJsonError(router.Handle(post), 405);
}

TEST(RouterTest, ErrorBodies) {
  const Response r = JsonError(418, "short and \"stout\"");
  EXPECT_EQ(r.status, 418);
  EXPECT_EQ(nlohmann::json::parse(r.body),
            nlohmann::json::parse(R"({"error":{"code":418,"message":"short and \"stout\""}})"));
  // Invalid UTF-8 from a client must not make the error path throw.
  const Response bad = JsonError(400, "bad \xff value");
  EXPECT_EQ(nlohmann::json::parse(bad.body)["error"]["code"], 400);

  EXPECT_EQ(ErrorResponse(Status::InvalidArgument("x")).status, 400);
  EXPECT_EQ(ErrorResponse(Status::NotFound("x")).status, 404);
  EXPECT_EQ(ErrorResponse(Status::Unavailable("x")).status, 503);
  EXPECT_EQ(ErrorResponse(Status::Timeout("x")).status, 504);
  EXPECT_EQ(ErrorResponse(Status::Internal("x")).status, 500);
  EXPECT_THAT(ErrorResponse(Status::NotFound("no sku 'X'")).body, HasSubstr("no sku 'X'"));
}

}  // namespace
}  // namespace segstream::serve
