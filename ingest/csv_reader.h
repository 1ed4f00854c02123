// Online Retail CSV → one `segstream.v1.Checkout` per run of consecutive rows with the same
// invoice number (DESIGN §2 "Input CSV"). Pure file parsing: no Kafka, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "segstream.pb.h"
#include "stream/status.h"

namespace segstream::ingest {

struct CsvOptions {
  // ISO 4217 code written to every Checkout.currency; Online Retail prices are pounds sterling.
  std::string currency = "GBP";
  // How many skipped rows CsvStats keeps as examples (line number, reason, text). Default 5.
  int max_examples = 5;
  // Longest accepted physical line in bytes; a longer one is skipped as `line_too_long`, so a
  // file without newlines cannot make the reader buffer it whole. Default 1 MiB.
  size_t max_line_bytes = 1 << 20;
};

// One skipped row, for the replay report.
struct CsvSkipExample {
  int64_t line = 0;    // 1-based physical line number; the header is line 1
  std::string reason;  // one of the reason names below
  std::string text;    // the raw line, cut to 200 bytes
};

// What the reader saw so far. Skip reasons (stable snake_case, usable as metric labels):
//   wrong_column_count  field count differs from the header's
//   bad_quote           a quoted field not followed by ',' or end of line, or never closed
//                       (quoted fields may not span lines; Online Retail has none that do)
//   bad_quantity        Quantity is not a base-10 int64
//   bad_date            InvoiceDate is not `YYYY-MM-DD HH:MM[:SS]` nor `M/D/YYYY H:MM[:SS]`,
//                       or names a day that does not exist
//   bad_price           UnitPrice is not a decimal with ≤ 6 fraction digits that fits int64 micros
//   line_too_long       longer than CsvOptions::max_line_bytes
// Rows with an empty InvoiceNo or StockCode, a zero quantity or a negative price parse fine and
// are emitted: the worker dead-letters them with a reason (DESIGN §2), so nothing is lost here.
struct CsvStats {
  int64_t rows_read = 0;     // data rows (non-blank lines after the header), skipped included
  int64_t rows_skipped = 0;  // rows not emitted, see reasons above
  int64_t checkouts = 0;     // Checkouts returned by Next()
  std::map<std::string, int64_t> skipped_by_reason;
  std::vector<CsvSkipExample> examples;  // the first CsvOptions::max_examples skipped rows
};

// Reads `.csv` or `.csv.gz` (zlib's gzread reads both, so the extension does not matter).
//
// The header is required; columns are found by name (case-insensitive, surrounding blanks
// ignored), in any order, and extra columns are ignored. Accepted names:
//   UCI Online Retail:    InvoiceNo StockCode Description Quantity InvoiceDate UnitPrice CustomerID
//   Country Online Retail II:     Invoice   StockCode Description Quantity InvoiceDate Price
//   Customer ID Country
// Fields follow RFC 4180 quoting (commas and doubled quotes inside quotes), one record per line,
// CRLF or LF endings, optional UTF-8 BOM. Blank lines are ignored.
//
// A Checkout takes invoice number, time, customer and store (Country) from its run's first row;
// a skipped row does not end a run. Values are kept as written (SKU and description untrimmed,
// case-sensitive) except: InvoiceDate is read as UTC; CustomerID `17850.0` becomes `17850`;
// UnitPrice becomes exact int64 micros (decimal digits, never a double).
//
// Move-only; not thread-safe.
class CsvCheckoutReader {
 public:
  // Opens `path` and reads its header. Errors: NotFound (no such file), IoError (unreadable),
  // InvalidArgument (empty file, or a header that lacks a required column — the message lists
  // the missing names and the header found).
  static Result<CsvCheckoutReader> Open(const std::string& path, CsvOptions options = {});

  CsvCheckoutReader(CsvCheckoutReader&&) noexcept;
  CsvCheckoutReader& operator=(CsvCheckoutReader&&) noexcept;
  ~CsvCheckoutReader();

  // Fills `*out` with the next checkout and returns true, or returns false at end of file.
  // `*out` is cleared first and its allocations are reused, so pass the same message every call.
  // Errors: Corruption (a damaged or truncated .gz), IoError.
  Result<bool> Next(v1::Checkout* out);

  const CsvStats& stats() const;
  // For progress: bytes of the file consumed so far (compressed bytes for .gz) and its size.
  int64_t bytes_read() const;
  int64_t file_size() const;

 private:
  struct Impl;
  explicit CsvCheckoutReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

namespace detail {
// Exposed for unit tests; each returns false on malformed input and leaves `*out` unspecified.

// Days since 1970-01-01 of a proleptic Gregorian date (y/m/d already range-checked).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
// `YYYY-MM-DD HH:MM[:SS]` (also with 'T') or `M/D/YYYY H:MM[:SS]`, UTC → ms since the epoch.
bool ParseInvoiceDate(std::string_view text, int64_t* out_ms);
// `[+-]digits[.digits]` with at most 6 fraction digits → exact micros; rejects overflow.
bool ParseMicros(std::string_view text, int64_t* out_micros);
// `[+-]digits` → int64; rejects overflow.
bool ParseInt64(std::string_view text, int64_t* out);
}  // namespace detail

}  // namespace segstream::ingest
