#include "ingest/csv_reader.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace segstream::ingest {
namespace {

// ---- small text helpers -------------------------------------------------------------------

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads between min_digits and max_digits decimal digits at *p.
bool ReadDigits(const char*& p, const char* end, int min_digits, int max_digits, unsigned* out) {
  unsigned v = 0;
  int n = 0;
  while (p < end && n < max_digits && IsDigit(*p)) {
    v = v * 10 + static_cast<unsigned>(*p - '0');
    ++p;
    ++n;
  }
  *out = v;
  return n >= min_digits;
}

bool Expect(const char*& p, const char* end, char c) {
  if (p < end && *p == c) {
    ++p;
    return true;
  }
  return false;
}

bool IsLeapYear(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(unsigned y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Reads `H:MM[:SS]` to the end of the text.
bool ReadClock(const char*& p, const char* end, unsigned* h, unsigned* mi, unsigned* s) {
  *s = 0;
  if (!ReadDigits(p, end, 1, 2, h) || !Expect(p, end, ':') || !ReadDigits(p, end, 2, 2, mi)) {
    return false;
  }
  if (Expect(p, end, ':') && !ReadDigits(p, end, 2, 2, s)) return false;
  return p == end;
}

// ---- CSV columns --------------------------------------------------------------------------

enum Column {
  kInvoice,
  kSku,
  kDescription,
  kQuantity,
  kDate,
  kPrice,
  kCustomer,
  kCountry,
  kNumColumns
};

constexpr std::array<const char*, kNumColumns> kCanonicalNames = {
    "InvoiceNo",   "StockCode", "Description", "Quantity",
    "InvoiceDate", "UnitPrice", "CustomerID",  "Country"};

// Header name (already trimmed) → column, UCI Online Retail and Online Retail II spellings.
int ColumnOf(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "invoiceno" || lower == "invoice") return kInvoice;
  if (lower == "stockcode") return kSku;
  if (lower == "description") return kDescription;
  if (lower == "quantity") return kQuantity;
  if (lower == "invoicedate") return kDate;
  if (lower == "unitprice" || lower == "price") return kPrice;
  if (lower == "customerid" || lower == "customer id") return kCustomer;
  if (lower == "country") return kCountry;
  return -1;
}

// One CSV field as it sits in the line buffer. `escaped` means it was quoted and holds doubled
// quotes still to collapse; unescaping is lazy so the buffer keeps the raw line for examples.
struct Field {
  std::string_view raw;
  bool escaped = false;
};

// Splits one line (RFC 4180 quoting, no line breaks inside quotes). Returns a skip reason or
// nullptr.
const char* SplitFields(std::string_view line, std::vector<Field>* fields) {
  fields->clear();
  const char* p = line.data();
  const char* end = p + line.size();
  for (;;) {
    if (p < end && *p == '"') {
      const char* r = p + 1;
      bool escaped = false;
      for (;;) {
        const void* q = std::memchr(r, '"', static_cast<size_t>(end - r));
        if (q == nullptr) return "bad_quote";
        r = static_cast<const char*>(q) + 1;
        if (r < end && *r == '"') {
          escaped = true;
          ++r;
          continue;
        }
        break;
      }
      fields->push_back({std::string_view(p + 1, static_cast<size_t>(r - 1 - (p + 1))), escaped});
      if (r == end) return nullptr;
      if (*r != ',') return "bad_quote";
      p = r + 1;
      continue;
    }
    // A plain loop, not memchr: fields are a few bytes long, so the call would cost more.
    const char* c = p;
    while (c < end && *c != ',') ++c;
    fields->push_back({std::string_view(p, static_cast<size_t>(c - p)), false});
    if (c == end) return nullptr;
    p = c + 1;
  }
}

std::string_view Unescape(const Field& f, std::string* scratch) {
  if (!f.escaped) return f.raw;
  scratch->clear();
  for (size_t i = 0; i < f.raw.size(); ++i) {
    scratch->push_back(f.raw[i]);
    if (f.raw[i] == '"') ++i;  // SplitFields guarantees quotes come in pairs here
  }
  return *scratch;
}

// `17850.0` (how pandas writes a float column) → `17850`; anything else is kept as written.
std::string_view NormalizeCustomer(std::string_view s) {
  s = Trim(s);
  size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0) return s;
  for (size_t i = 0; i < dot; ++i) {
    if (!IsDigit(s[i])) return s;
  }
  if (dot + 1 == s.size()) return s;
  for (size_t i = dot + 1; i < s.size(); ++i) {
    if (s[i] != '0') return s;
  }
  return s.substr(0, dot);
}

struct GzClose {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kExampleBytes = 200;

}  // namespace

// ---- public helpers -----------------------------------------------------------------------

namespace detail {

// Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms", days_from_civil: exact for the
// proleptic Gregorian calendar, no tables, no time-zone database.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ParseInvoiceDate(std::string_view text, int64_t* out_ms) {
  text = Trim(text);
  const char* p = text.data();
  const char* end = p + text.size();
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() >= 5 && text[4] == '-') {  // YYYY-MM-DD HH:MM[:SS]
    if (!ReadDigits(p, end, 4, 4, &y) || !Expect(p, end, '-') || !ReadDigits(p, end, 1, 2, &mo) ||
        !Expect(p, end, '-') || !ReadDigits(p, end, 1, 2, &d)) {
      return false;
    }
    if (!Expect(p, end, ' ') && !Expect(p, end, 'T')) return false;
  } else {  // M/D/YYYY H:MM[:SS]
    if (!ReadDigits(p, end, 1, 2, &mo) || !Expect(p, end, '/') || !ReadDigits(p, end, 1, 2, &d) ||
        !Expect(p, end, '/') || !ReadDigits(p, end, 4, 4, &y) || !Expect(p, end, ' ')) {
      return false;
    }
  }
  if (!ReadClock(p, end, &h, &mi, &s)) return false;
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) {
    return false;
  }
  const int64_t days = DaysFromCivil(y, mo, d);
  *out_ms = ((days * 24 + h) * 60 + mi) * 60'000 + static_cast<int64_t>(s) * 1000;
  return true;
}

bool ParseInt64(std::string_view text, int64_t* out) {
  text = Trim(text);
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return false;
  int64_t v = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    // Accumulate negatively so INT64_MIN parses too.
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_sub_overflow(v, c - '0', &v)) return false;
  }
  if (!negative) {
    if (v == std::numeric_limits<int64_t>::min()) return false;
    v = -v;
  }
  *out = v;
  return true;
}

bool ParseMicros(std::string_view text, int64_t* out_micros) {
  text = Trim(text);
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() && frac.empty()) return false;
  if (frac.size() > 6) return false;
  int64_t v = 0;
  for (char c : whole) {
    if (!IsDigit(c)) return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) return false;
  }
  if (__builtin_mul_overflow(v, 1'000'000, &v)) return false;
  int64_t f = 0;
  for (char c : frac) {
    if (!IsDigit(c)) return false;
    f = f * 10 + (c - '0');
  }
  for (size_t i = frac.size(); i < 6; ++i) f *= 10;
  if (__builtin_add_overflow(v, f, &v)) return false;
  *out_micros = negative ? -v : v;
  return true;
}

}  // namespace detail

// ---- reader -------------------------------------------------------------------------------

struct CsvCheckoutReader::Impl {
  // One parsed data row; views into `buf` (or `scratch`), valid until the next ReadRow.
  struct Row {
    std::string_view invoice, sku, description, customer, country;
    int64_t time_ms = 0, quantity = 0, price_micros = 0;
  };
  // The first row of the next checkout, read while finding the end of the current one.
  struct Pending {
    std::string invoice, sku, description, customer, country;
    int64_t time_ms = 0, quantity = 0, price_micros = 0;
  };
  enum class LineKind { kLine, kTooLong, kEof };

  CsvOptions options;
  std::string path;
  GzFile file;
  int64_t file_size = 0;
  int64_t bytes_read = 0;

  std::vector<char> buf;
  size_t begin = 0, end = 0;
  bool eof = false;
  int64_t line_no = 0;
  std::string too_long_prefix;

  std::array<int, kNumColumns> column{};
  size_t header_columns = 0;
  std::vector<Field> fields;
  std::array<std::string, kNumColumns> scratch;
  std::string last_date;  // the last InvoiceDate text that parsed, and its value
  int64_t last_date_ms = 0;

  CsvStats stats;
  bool have_pending = false;
  Pending pending;
  bool done = false;

  Status Fill() {
    const int n = gzread(file.get(), buf.data() + end, static_cast<unsigned>(buf.size() - end));
    int errnum = Z_OK;
    const char* msg = gzerror(file.get(), &errnum);
    if (n < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR)) {
      return errnum == Z_ERRNO ? Status::IoError(path + ": read failed: " + std::strerror(errno))
                               : Status::Corruption(path + ": " + msg);
    }
    if (n == 0) {
      // zlib reports a truncated .gz as Z_BUF_ERROR "unexpected end of file" only at the end.
      if (errnum == Z_BUF_ERROR) return Status::Corruption(path + ": " + msg);
      eof = true;
    }
    end += static_cast<size_t>(n);
    bytes_read = gzoffset(file.get());
    return Status::Ok();
  }

  // Next physical line without its line ending.
  Status NextLine(std::string_view* line, LineKind* kind) {
    for (;;) {
      const char* start = buf.data() + begin;
      const size_t avail = end - begin;
      const void* nl = std::memchr(start, '\n', avail);
      if (nl != nullptr || (eof && avail > 0)) {
        const char* stop = nl != nullptr ? static_cast<const char*>(nl) : start + avail;
        size_t len = static_cast<size_t>(stop - start);
        begin += len + (nl != nullptr ? 1 : 0);
        ++line_no;
        if (len > 0 && start[len - 1] == '\r') --len;
        *line = std::string_view(start, len);
        *kind = len > options.max_line_bytes ? LineKind::kTooLong : LineKind::kLine;
        return Status::Ok();
      }
      if (eof) {
        *kind = LineKind::kEof;
        return Status::Ok();
      }
      if (avail > options.max_line_bytes) return DiscardLongLine(line, kind);
      if (begin > 0) {
        std::memmove(buf.data(), start, avail);
        begin = 0;
        end = avail;
      }
      if (end == buf.size()) buf.resize(buf.size() * 2);
      if (Status s = Fill(); !s.ok()) return s;
    }
  }

  // Drops the rest of an over-long line without buffering it.
  Status DiscardLongLine(std::string_view* line, LineKind* kind) {
    too_long_prefix.assign(buf.data() + begin, std::min(end - begin, kExampleBytes));
    for (;;) {
      const void* nl = std::memchr(buf.data() + begin, '\n', end - begin);
      if (nl != nullptr) {
        begin = static_cast<size_t>(static_cast<const char*>(nl) - buf.data()) + 1;
        break;
      }
      begin = end = 0;
      if (eof) break;
      if (Status s = Fill(); !s.ok()) return s;
    }
    ++line_no;
    *line = too_long_prefix;
    *kind = LineKind::kTooLong;
    return Status::Ok();
  }

  Status ReadHeader() {
    std::string_view line;
    LineKind kind = LineKind::kLine;
    do {
      if (Status s = NextLine(&line, &kind); !s.ok()) return s;
      if (kind == LineKind::kEof) {
        return Status::InvalidArgument(path + ": empty file; expected a header line " +
                                       "InvoiceNo,StockCode,Description,Quantity,InvoiceDate," +
                                       "UnitPrice,CustomerID,Country");
      }
    } while (kind == LineKind::kLine && line.empty());
    if (kind == LineKind::kTooLong) return Status::InvalidArgument(path + ": header line too long");
    if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    if (SplitFields(line, &fields) != nullptr) {
      return Status::InvalidArgument(path + ": header line has unbalanced quotes");
    }
    column.fill(-1);
    for (size_t i = 0; i < fields.size(); ++i) {
      const int c = ColumnOf(Trim(fields[i].raw));
      if (c < 0) continue;
      if (column[c] >= 0) {
        return Status::InvalidArgument(path + ": header names column " + kCanonicalNames[c] +
                                       " twice: " + std::string(line));
      }
      column[c] = static_cast<int>(i);
    }
    std::string missing;
    for (int c = 0; c < kNumColumns; ++c) {
      if (column[c] < 0) missing += std::string(missing.empty() ? "" : ", ") + kCanonicalNames[c];
    }
    if (!missing.empty()) {
      return Status::InvalidArgument(path + ": header lacks column(s) " + missing +
                                     " (Online Retail II names Invoice, " +
                                     "Price, Customer ID are accepted too); first line was: " +
                                     std::string(line.substr(0, kExampleBytes)));
    }
    header_columns = fields.size();
    return Status::Ok();
  }

  void Skip(const char* reason, std::string_view text) {
    ++stats.rows_skipped;
    ++stats.skipped_by_reason[reason];
    if (static_cast<int>(stats.examples.size()) < options.max_examples) {
      stats.examples.push_back(
          {line_no, reason, std::string(text.substr(0, std::min(text.size(), kExampleBytes)))});
    }
  }

  // Parses fields into *row; returns a skip reason or nullptr.
  const char* ParseRow(Row* row) {
    if (fields.size() != header_columns) return "wrong_column_count";
    auto raw = [&](Column c) { return fields[static_cast<size_t>(column[c])]; };
    auto text = [&](Column c) { return Unescape(raw(c), &scratch[c]); };
    if (!detail::ParseInt64(text(kQuantity), &row->quantity)) return "bad_quantity";
    // Consecutive rows mostly share a timestamp: comparing is cheaper than parsing again.
    const std::string_view date = text(kDate);
    if (date == last_date) {
      row->time_ms = last_date_ms;
    } else {
      if (!detail::ParseInvoiceDate(date, &row->time_ms)) return "bad_date";
      last_date.assign(date);
      last_date_ms = row->time_ms;
    }
    if (!detail::ParseMicros(text(kPrice), &row->price_micros)) return "bad_price";
    row->invoice = text(kInvoice);
    row->sku = text(kSku);
    row->description = text(kDescription);
    row->customer = NormalizeCustomer(text(kCustomer));
    row->country = text(kCountry);
    return nullptr;
  }

  // Next row that parses, or false at end of file; skipped rows are counted on the way.
  Status ReadRow(Row* row, bool* got) {
    for (;;) {
      std::string_view line;
      LineKind kind = LineKind::kLine;
      if (Status s = NextLine(&line, &kind); !s.ok()) return s;
      if (kind == LineKind::kEof) {
        *got = false;
        return Status::Ok();
      }
      if (kind == LineKind::kLine && line.empty()) continue;
      ++stats.rows_read;
      if (kind == LineKind::kTooLong) {
        Skip("line_too_long", line);
        continue;
      }
      const char* reason = SplitFields(line, &fields);
      if (reason == nullptr) reason = ParseRow(row);
      if (reason != nullptr) {
        Skip(reason, line);
        continue;
      }
      *got = true;
      return Status::Ok();
    }
  }

  static void AddLine(std::string_view sku, std::string_view description, int64_t quantity,
                      int64_t price_micros, v1::Checkout* out) {
    v1::Line* line = out->add_lines();
    line->mutable_sku()->assign(sku);
    line->mutable_description()->assign(description);
    line->set_quantity(quantity);
    line->set_unit_price_micros(price_micros);
  }

  void Start(std::string_view invoice, std::string_view customer, std::string_view country,
             int64_t time_ms, v1::Checkout* out) const {
    out->mutable_invoice_no()->assign(invoice);
    if (!customer.empty()) out->mutable_customer_id()->assign(customer);
    out->mutable_store()->assign(country);
    out->set_event_time_ms(time_ms);
    out->mutable_currency()->assign(options.currency);
  }

  void SavePending(const Row& row) {
    pending.invoice.assign(row.invoice);
    pending.sku.assign(row.sku);
    pending.description.assign(row.description);
    pending.customer.assign(row.customer);
    pending.country.assign(row.country);
    pending.time_ms = row.time_ms;
    pending.quantity = row.quantity;
    pending.price_micros = row.price_micros;
    have_pending = true;
  }

  Result<bool> Next(v1::Checkout* out) {
    out->Clear();
    if (done) return false;
    Row row;
    bool got = false;
    if (have_pending) {
      Start(pending.invoice, pending.customer, pending.country, pending.time_ms, out);
      AddLine(pending.sku, pending.description, pending.quantity, pending.price_micros, out);
      have_pending = false;
    } else {
      if (Status s = ReadRow(&row, &got); !s.ok()) return s;
      if (!got) {
        done = true;
        return false;
      }
      Start(row.invoice, row.customer, row.country, row.time_ms, out);
      AddLine(row.sku, row.description, row.quantity, row.price_micros, out);
    }
    for (;;) {
      if (Status s = ReadRow(&row, &got); !s.ok()) return s;
      if (!got) {
        done = true;
        break;
      }
      if (row.invoice != out->invoice_no()) {
        SavePending(row);
        break;
      }
      AddLine(row.sku, row.description, row.quantity, row.price_micros, out);
    }
    ++stats.checkouts;
    return true;
  }
};

Result<CsvCheckoutReader> CsvCheckoutReader::Open(const std::string& path, CsvOptions options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode))
    return Status::InvalidArgument(path + ": is a directory, not a CSV file");
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) return Status::IoError(path + ": cannot open: " + std::strerror(errno));
  // A larger zlib input buffer halves the read syscalls; must be set before the first read.
  gzbuffer(file.get(), 128 * 1024);

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = std::move(file);
  impl->file_size = S_ISREG(st.st_mode) ? static_cast<int64_t>(st.st_size) : 0;
  impl->options = std::move(options);
  if (impl->options.max_line_bytes == 0) impl->options.max_line_bytes = 1;
  impl->buf.resize(kReadChunk);
  if (Status s = impl->ReadHeader(); !s.ok()) return s;
  return CsvCheckoutReader(std::move(impl));
}

CsvCheckoutReader::CsvCheckoutReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CsvCheckoutReader::CsvCheckoutReader(CsvCheckoutReader&&) noexcept = default;
CsvCheckoutReader& CsvCheckoutReader::operator=(CsvCheckoutReader&&) noexcept = default;
CsvCheckoutReader::~CsvCheckoutReader() = default;

Result<bool> CsvCheckoutReader::Next(v1::Checkout* out) { return impl_->Next(out); }
const CsvStats& CsvCheckoutReader::stats() const { return impl_->stats; }
int64_t CsvCheckoutReader::bytes_read() const { return impl_->bytes_read; }
int64_t CsvCheckoutReader::file_size() const { return impl_->file_size; }

}  // namespace segstream::ingest
