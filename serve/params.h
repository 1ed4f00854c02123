// Strict query-parameter validation (DESIGN §6: "validated, never clamped"). Every helper returns
// the value or an InvalidArgument whose message names the parameter, the allowed values and what
// was received; `ErrorResponse(status)` (router.h) turns it into the 400 JSON body.
//
// Policy:
// - Absent parameter: the default when one is given, otherwise a 400 "missing parameter".
// - Present but empty (`n=` or a bare `n`): a 400, never the default.
// - Given more than once (`n=1&n=2`): a 400, even when both agree — the client is confused.
// - Unknown parameters: a 400 from CheckParams(), which every handler calls first, so a typo like
//   `windw=1h` does not silently fall back to the default window.
// - Numbers: plain decimal only. Integers `-?[0-9]+`; doubles as std::from_chars general format
//   (`0.5`, `.5`, `5e-1`). No leading '+', no whitespace, no trailing bytes (`1e3x`), no hex, no
//   `nan`/`inf`, nothing that overflows; a value outside the range is a 400, not clamped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/router.h"
#include "stream/status.h"

namespace segstream::serve {

// A closed or half-open interval of doubles, e.g. {0, 100, .lo_open = true} is (0, 100].
struct DoubleRange {
  double lo = 0;
  double hi = 0;
  bool lo_open = false;
  bool hi_open = false;

  bool Contains(double v) const;
  std::string ToString() const;  // "[0, 1]", "(0, 100]"
};

// A double as sent and as parsed: keep the text to echo it back as a JSON key ("0.5").
struct DoubleParamValue {
  std::string text;
  double value = 0;
};

// Rejects parameters not in `allowed` and any parameter given twice.
Status CheckParams(const Request& request, std::initializer_list<std::string_view> allowed);

// Integer in [min, max].
Result<int64_t> IntParam(const Request& request, std::string_view name, int64_t min, int64_t max,
                         std::optional<int64_t> fallback = std::nullopt);

// Finite double in `range`.
Result<double> DoubleParam(const Request& request, std::string_view name, DoubleRange range,
                           std::optional<double> fallback = std::nullopt);

// Comma-separated doubles, each finite and in `range`: "0.5,0.9,0.99". Empty items ("0.5,,0.9",
// a trailing comma) and more than `max_items` items are a 400; order and duplicates are kept as
// given. `fallback` is used when the parameter is absent (empty fallback: required).
Result<std::vector<DoubleParamValue>> DoubleListParam(const Request& request, std::string_view name,
                                                      DoubleRange range,
                                                      std::vector<double> fallback = {},
                                                      size_t max_items = 100);

// One of `allowed`, compared exactly (case-sensitive).
Result<std::string> EnumParam(const Request& request, std::string_view name,
                              std::initializer_list<std::string_view> allowed,
                              std::optional<std::string_view> fallback = std::nullopt);

// The raw (decoded) value when present exactly once; nullopt when absent; 400 when duplicated.
Result<std::optional<std::string>> StringParam(const Request& request, std::string_view name);

// Strict parsers behind the helpers, exposed for path parameters and tests.
std::optional<int64_t> ParseInt64(std::string_view text);
std::optional<double> ParseFiniteDouble(std::string_view text);

}  // namespace segstream::serve
