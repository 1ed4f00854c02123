#include "ingest/csv_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace segstream::ingest {
namespace {

constexpr char kUciHeader[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";

// Epoch milliseconds below were computed with Python's datetime (UTC), not with this code.
constexpr int64_t kMs20101201T0826 = 1291191960000;
constexpr int64_t kMs20111209T1250 = 1323435000000;

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "csv_reader_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string WriteGz(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  gzclose(f);
  return path;
}

// Reads every checkout of a file, failing the test on any error.
std::vector<v1::Checkout> ReadAll(const std::string& path, CsvStats* stats = nullptr,
                                  CsvOptions options = {}) {
  auto reader = CsvCheckoutReader::Open(path, std::move(options));
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<v1::Checkout> all;
  if (!reader.ok()) return all;
  v1::Checkout c;
  for (;;) {
    Result<bool> more = reader->Next(&c);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    all.push_back(c);
  }
  if (stats != nullptr) *stats = reader->stats();
  return all;
}

TEST(CsvReaderTest, UciHeaderIsoDatesAndGrouping) {
  const std::string path = WriteFile(
      "uci.csv",
      std::string(kUciHeader) +
          "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 "
          "08:26:00,2.55,17850.0,United Kingdom\n"
          "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
          "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850.0,United "
          "Kingdom\n");
  CsvStats stats;
  auto all = ReadAll(path, &stats);
  ASSERT_EQ(all.size(), 2u);
  const v1::Checkout& a = all[0];
  EXPECT_EQ(a.invoice_no(), "536365");
  EXPECT_EQ(a.customer_id(), "17850");
  EXPECT_EQ(a.store(), "United Kingdom");
  EXPECT_EQ(a.currency(), "GBP");
  EXPECT_EQ(a.event_time_ms(), kMs20101201T0826);
  ASSERT_EQ(a.lines_size(), 2);
  EXPECT_EQ(a.lines(0).sku(), "85123A");
  EXPECT_EQ(a.lines(0).description(), "WHITE HANGING HEART T-LIGHT HOLDER");
  EXPECT_EQ(a.lines(0).quantity(), 6);
  EXPECT_EQ(a.lines(0).unit_price_micros(), 2'550'000);
  EXPECT_EQ(a.lines(1).unit_price_micros(), 3'390'000);
  EXPECT_EQ(all[1].invoice_no(), "536366");
  EXPECT_EQ(all[1].event_time_ms(), kMs20101201T0826 + 2 * 60'000);
  EXPECT_EQ(stats.rows_read, 3);
  EXPECT_EQ(stats.rows_skipped, 0);
  EXPECT_EQ(stats.checkouts, 2);
}

TEST(CsvReaderTest, OnlineRetailIIHeaderReorderedColumnsAndUsDates) {
  // Online Retail II names, columns in another order, an extra column, M/D/YYYY H:MM dates.
  const std::string path =
      WriteGz("ii.csv.gz",
              "Customer ID,Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Country,Extra\n"
              "12680.0,581587,22613,PACK OF 20 SPACEBOY NAPKINS,12,12/9/2011 12:50,0.85,France,x\n"
              "12680.0,581587,22899,CHILDREN'S APRON DOLLY GIRL ,6,12/9/2011 12:50,2.1,France,y\n");
  auto all = ReadAll(path);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].invoice_no(), "581587");
  EXPECT_EQ(all[0].customer_id(), "12680");
  EXPECT_EQ(all[0].store(), "France");
  EXPECT_EQ(all[0].event_time_ms(), kMs20111209T1250);
  ASSERT_EQ(all[0].lines_size(), 2);
  EXPECT_EQ(all[0].lines(1).description(), "CHILDREN'S APRON DOLLY GIRL ");  // kept as is
  EXPECT_EQ(all[0].lines(1).unit_price_micros(), 2'100'000);
}

TEST(CsvReaderTest, QuotedFieldsCrlfBomAndCaseSensitiveSkus) {
  const std::string path =
      WriteFile("quoted.csv",
                "\xEF\xBB\xBFInvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
                "CustomerID,Country\r\n"
                "536381,82567,\"AIRLINE LOUNGE,METAL SIGN\",2,2010-12-01 "
                "09:41:00,2.1,15311.0,United Kingdom\r\n"
                "536381,85099C,\"RECORD FRAME 7\"\" SINGLE SIZE \",48,2010-12-01 "
                "09:41:00,2.1,15311.0,\"United Kingdom\"\r\n"
                "536381,85099c,\"\",1,2010-12-01 09:41:00,2.1,15311.0,United Kingdom\r\n");
  auto all = ReadAll(path);
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].lines_size(), 3);
  EXPECT_EQ(all[0].lines(0).description(), "AIRLINE LOUNGE,METAL SIGN");
  EXPECT_EQ(all[0].lines(1).description(), "RECORD FRAME 7\" SINGLE SIZE ");
  EXPECT_EQ(all[0].lines(1).sku(), "85099C");
  EXPECT_EQ(all[0].lines(2).sku(), "85099c");
  EXPECT_EQ(all[0].lines(2).description(), "");
  EXPECT_EQ(all[0].store(), "United Kingdom");
}

TEST(CsvReaderTest, AnonymousCustomerAndCurrencyOption) {
  const std::string path =
      WriteFile("anon.csv", std::string(kUciHeader) +
                                "536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom\n");
  CsvOptions options;
  options.currency = "EUR";
  auto all = ReadAll(path, nullptr, options);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].customer_id(), "");
  EXPECT_EQ(all[0].currency(), "EUR");
  EXPECT_EQ(all[0].lines(0).unit_price_micros(), 0);
}

TEST(CsvReaderTest, PricesAreExactMicros) {
  std::string text = kUciHeader;
  const std::vector<std::pair<std::string, int64_t>> cases = {{"0.1", 100'000},
                                                              {"1.25", 1'250'000},
                                                              {"-11062.06", -11'062'060'000},
                                                              {"38970.00", 38'970'000'000},
                                                              {"0.001", 1'000},
                                                              {"0.000001", 1},
                                                              {"2.55", 2'550'000},
                                                              {"649.5", 649'500'000},
                                                              {".5", 500'000},
                                                              {"7", 7'000'000},
                                                              {"+3.3", 3'300'000},
                                                              {"9223372036854.775807", INT64_MAX}};
  for (size_t i = 0; i < cases.size(); ++i) {
    text += "1," + std::to_string(i) + ",d,1,2010-12-01 08:26,\"" + cases[i].first + "\",,UK\n";
  }
  CsvStats stats;
  auto all = ReadAll(WriteFile("prices.csv", text), &stats);
  EXPECT_EQ(stats.rows_skipped, 0);
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].lines_size(), static_cast<int>(cases.size()));
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(all[0].lines(static_cast<int>(i)).unit_price_micros(), cases[i].second)
        << cases[i].first;
  }
}

TEST(CsvReaderTest, RecurringInvoiceNumberIsANewCheckout) {
  // Online Retail splits 542806 around the cancellation C542805.
  const std::string path =
      WriteFile("recur.csv", std::string(kUciHeader) +
                                 "542806,A,a,1,2011-02-01 11:19,1,12836.0,United Kingdom\n"
                                 "542806,B,b,1,2011-02-01 11:19,1,12836.0,United Kingdom\n"
                                 "C542805,A,a,-1,2011-02-01 11:19,1,12836.0,United Kingdom\n"
                                 "542806,C,c,1,2011-02-01 11:20,1,12836.0,United Kingdom\n");
  auto all = ReadAll(path);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].invoice_no(), "542806");
  EXPECT_EQ(all[0].lines_size(), 2);
  EXPECT_EQ(all[1].invoice_no(), "C542805");
  EXPECT_EQ(all[1].lines(0).quantity(), -1);
  EXPECT_EQ(all[2].invoice_no(), "542806");
  ASSERT_EQ(all[2].lines_size(), 1);
  EXPECT_EQ(all[2].lines(0).sku(), "C");
  EXPECT_EQ(all[2].event_time_ms(), all[0].event_time_ms() + 60'000);
}

TEST(CsvReaderTest, UnparsableRowsAreSkippedReportedAndDoNotSplitAnInvoice) {
  const std::string path = WriteFile(
      "bad.csv",
      std::string(kUciHeader) +
          "1,A,a,2,2010-12-01 08:26,1.5,1.0,UK\n"        // line 2
          "1,B,b,two,2010-12-01 08:26,1.5,1.0,UK\n"      // 3 bad_quantity
          "2,X,x,1,2010-13-01 08:26,1.5,1.0,UK\n"        // 4 bad_date (month 13), other invoice
          "1,C,c,1,2010-02-29 08:26,1.5,1.0,UK\n"        // 5 bad_date (not a leap year)
          "1,D,d,1,2010-12-01 08:26,1.5,1.0\n"           // 6 wrong_column_count
          "1,E,e,1,2010-12-01 08:26,1.1234567,1.0,UK\n"  // 7 bad_price (7 decimals)
          "1,F,\"unterminated,1,2010-12-01 08:26,1,1.0,UK\n"       // 8 bad_quote
          "\n"                                                     // 9 blank: ignored
          "1,G,g,3,2010-12-01 08:26,99999999999999,1.0,UK\n"       // 10 bad_price (overflow)
          "1,H,h,9223372036854775808,2010-12-01 08:26,1,1.0,UK\n"  // 11 bad_quantity (overflow)
          "1,I,i,4,2010-12-01 08:26,2,1.0,UK\n");                  // 12
  CsvOptions options;
  options.max_examples = 3;
  CsvStats stats;
  auto all = ReadAll(path, &stats, options);
  ASSERT_EQ(all.size(), 1u);  // the bad row of invoice 2 does not split invoice 1
  ASSERT_EQ(all[0].lines_size(), 2);
  EXPECT_EQ(all[0].lines(0).sku(), "A");
  EXPECT_EQ(all[0].lines(1).sku(), "I");
  EXPECT_EQ(stats.rows_read, 10);
  EXPECT_EQ(stats.rows_skipped, 8);
  EXPECT_EQ(stats.checkouts, 1);
  const std::map<std::string, int64_t> expected = {{"bad_quantity", 2},
                                                   {"bad_date", 2},
                                                   {"wrong_column_count", 1},
                                                   {"bad_price", 2},
                                                   {"bad_quote", 1}};
  EXPECT_EQ(stats.skipped_by_reason, expected);
  ASSERT_EQ(stats.examples.size(), 3u);
  EXPECT_EQ(stats.examples[0].line, 3);
  EXPECT_EQ(stats.examples[0].reason, "bad_quantity");
  EXPECT_EQ(stats.examples[0].text, "1,B,b,two,2010-12-01 08:26,1.5,1.0,UK");
  EXPECT_EQ(stats.examples[1].line, 4);
  EXPECT_EQ(stats.examples[1].reason, "bad_date");
  EXPECT_EQ(stats.examples[2].line, 5);
}

TEST(CsvReaderTest, RulesBrokenButParsableRowsAreEmittedForTheDlq) {
  // Empty sku, zero quantity and negative price parse; the worker dead-letters them (DESIGN §2).
  const std::string path = WriteFile(
      "rules.csv", std::string(kUciHeader) +
                       "A563186,B,Adjust bad debt,1,2011-08-12 14:51,-11062.06,,United Kingdom\n"
                       "9,,empty sku,0,2011-08-12 14:51,1,,United Kingdom\n");
  CsvStats stats;
  auto all = ReadAll(path, &stats);
  EXPECT_EQ(stats.rows_skipped, 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].lines(0).unit_price_micros(), -11'062'060'000);
  EXPECT_EQ(all[1].lines(0).sku(), "");
  EXPECT_EQ(all[1].lines(0).quantity(), 0);
}

TEST(CsvReaderTest, OverlongLineIsSkippedWithoutBufferingIt) {
  // 600 kB is more than the reader's 256 KiB read buffer, so the line is dropped while streaming.
  std::string text = kUciHeader;
  text += "1,A,a,1,2010-12-01 08:26,1,,UK\n";
  text += "1,B," + std::string(600'000, 'x') + ",1,2010-12-01 08:26,1,,UK\n";
  text += "1,C,c,1,2010-12-01 08:26,1,,UK";  // no final newline
  CsvOptions options;
  options.max_line_bytes = 1000;
  CsvStats stats;
  auto all = ReadAll(WriteFile("long.csv", text), &stats, options);
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].lines_size(), 2);
  EXPECT_EQ(all[0].lines(1).sku(), "C");
  EXPECT_EQ(stats.rows_read, 3);
  EXPECT_EQ(stats.skipped_by_reason.at("line_too_long"), 1);
  ASSERT_EQ(stats.examples.size(), 1u);
  EXPECT_EQ(stats.examples[0].line, 3);
  EXPECT_EQ(stats.examples[0].text, "1,B," + std::string(196, 'x'));

  // Under the default limit (1 MiB) the same line is read whole: the buffer grows.
  all = ReadAll(WriteFile("long_ok.csv", text), &stats);
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].lines_size(), 3);
  EXPECT_EQ(all[0].lines(1).description().size(), 600'000u);
  EXPECT_EQ(stats.rows_skipped, 0);
}

TEST(CsvReaderTest, HeaderOnlyFileHasNoCheckouts) {
  CsvStats stats;
  EXPECT_TRUE(ReadAll(WriteFile("empty_body.csv", kUciHeader), &stats).empty());
  EXPECT_EQ(stats.rows_read, 0);
}

TEST(CsvReaderTest, MissingFileIsNotFound) {
  auto reader = CsvCheckoutReader::Open(TempPath("does_not_exist.csv"));
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  EXPECT_NE(reader.status().message().find("does_not_exist.csv"), std::string::npos);
}

TEST(CsvReaderTest, EmptyFileAndBadHeadersAreClearErrors) {
  auto empty = CsvCheckoutReader::Open(WriteFile("empty.csv", ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("empty file"), std::string::npos);

  // Data where the header should be: every column is missing.
  auto data_first = CsvCheckoutReader::Open(
      WriteFile("noheader.csv", "536365,85123A,X,6,2010-12-01 08:26:00,2.55,17850.0,UK\n"));
  ASSERT_FALSE(data_first.ok());
  EXPECT_EQ(data_first.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(data_first.status().message().find("InvoiceNo, StockCode"), std::string::npos)
      << data_first.status().message();

  // One unknown name instead of UnitPrice.
  auto unknown = CsvCheckoutReader::Open(
      WriteFile("unknown.csv",
                "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,Cost,CustomerID,Country\n"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("lacks column(s) UnitPrice"), std::string::npos)
      << unknown.status().message();

  auto twice = CsvCheckoutReader::Open(WriteFile(
      "twice.csv",
      "Invoice,InvoiceNo,StockCode,Description,Quantity,InvoiceDate,Price,CustomerID,Country\n"));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("twice"), std::string::npos);
}

TEST(CsvReaderTest, TruncatedGzipIsCorruption) {
  std::string text = kUciHeader;
  for (int i = 0; i < 20000; ++i) {
    text += std::to_string(i) + ",SKU" + std::to_string(i * 7919 % 10007) +
            ",desc,1,2010-12-01 08:26,1.25,17850.0,United Kingdom\n";
  }
  const std::string full = WriteGz("full.csv.gz", text);
  std::ifstream in(full, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  const std::string path = WriteFile("truncated.csv.gz", bytes.substr(0, bytes.size() / 2));
  auto reader = CsvCheckoutReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  v1::Checkout c;
  Status error;
  for (;;) {
    Result<bool> more = reader->Next(&c);
    if (!more.ok()) {
      error = more.status();
      break;
    }
    if (!*more) break;
  }
  EXPECT_EQ(error.code(), StatusCode::kCorruption) << error.ToString();
}

TEST(CsvReaderTest, ReusedCheckoutHoldsOnlyTheCurrentRun) {
  const std::string path = WriteFile(
      "reuse.csv", std::string(kUciHeader) +
                       "1,A,a,1,2010-12-01 08:26,1,5.0,UK\n1,B,b,1,2010-12-01 08:26,1,5.0,UK\n"
                       "2,C,,1,2010-12-01 08:27,1,,FR\n");
  auto reader = CsvCheckoutReader::Open(path);
  ASSERT_TRUE(reader.ok());
  v1::Checkout c;
  ASSERT_TRUE(*reader->Next(&c));
  ASSERT_TRUE(*reader->Next(&c));
  EXPECT_EQ(c.invoice_no(), "2");
  EXPECT_EQ(c.customer_id(), "");
  EXPECT_EQ(c.store(), "FR");
  ASSERT_EQ(c.lines_size(), 1);
  EXPECT_EQ(c.lines(0).description(), "");
  EXPECT_FALSE(*reader->Next(&c));
  EXPECT_EQ(c.lines_size(), 0);
  EXPECT_FALSE(*reader->Next(&c));
  EXPECT_EQ(reader->bytes_read(), reader->file_size());
}

TEST(CsvDetailTest, DatesAgainstPythonDatetime) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  const Case cases[] = {
      {"2010-12-01 08:26:00", kMs20101201T0826},
      {"2010-12-01 08:26", kMs20101201T0826},
      {"12/1/2010 8:26", kMs20101201T0826},
      {"12/01/2010 08:26:00", kMs20101201T0826},
      {"2010-12-01T08:26:00", kMs20101201T0826},
      {"2000-02-29 00:00", 951782400000},
      {"1970-01-01 00:00", 0},
      {"1969-12-31 23:59", -60000},
      {"2024-03-01 23:59:59", 1709337599000},
      {"1600-03-01 00:00", -11670912000000},
      {"9999-12-31 23:59:59", 253402300799000},
      {" 12/1/2009 7:45 ", 1259653500000},
  };
  for (const Case& c : cases) {
    int64_t ms = 0;
    EXPECT_TRUE(detail::ParseInvoiceDate(c.text, &ms)) << c.text;
    EXPECT_EQ(ms, c.ms) << c.text;
  }
  for (const char* bad :
       {"", "2010-12-01", "2010-12-01 24:00", "2010-12-01 08:60", "2010-12-32 08:00",
        "2010-00-10 08:00", "1900-02-29 00:00", "13/1/2010 8:26", "12/1/10 8:26",
        "2010-12-01 08:26:00Z", "2010/12/01 08:26", "12-1-2010 8:26", "2010-12-01 8:6"}) {
    int64_t ms = 0;
    EXPECT_FALSE(detail::ParseInvoiceDate(bad, &ms)) << bad;
  }
}

TEST(CsvDetailTest, NumbersRejectGarbageAndOverflow) {
  int64_t v = 0;
  for (const char* bad : {"", "-", ".", "1.2.3", "1e3", "0x10", "1,5", "1.0000001", "- 1",
                          "9223372036854.775808", "10000000000000"}) {
    EXPECT_FALSE(detail::ParseMicros(bad, &v)) << bad;
  }
  EXPECT_TRUE(detail::ParseInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_TRUE(detail::ParseInt64("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  for (const char* bad : {"", "+", "1.0", "9223372036854775808", "-9223372036854775809", "1 2"}) {
    EXPECT_FALSE(detail::ParseInt64(bad, &v)) << bad;
  }
}

#ifdef SEGSTREAM_DATA_DIR
// Facts from data/README.md, computed independently of this code (Python csv module).
TEST(CsvReaderTest, RealOnlineRetailFile) {
  auto reader = CsvCheckoutReader::Open(SEGSTREAM_DATA_DIR "/online_retail.csv.gz");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  v1::Checkout c;
  int64_t checkouts = 0, lines = 0, quantity = 0, price_micros = 0, anonymous = 0;
  std::vector<int> runs_of_542806;
  for (;;) {
    Result<bool> more = reader->Next(&c);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    if (checkouts == 0) {
      EXPECT_EQ(c.invoice_no(), "536365");
      EXPECT_EQ(c.customer_id(), "17850");
      EXPECT_EQ(c.store(), "United Kingdom");
      EXPECT_EQ(c.event_time_ms(), kMs20101201T0826);
      EXPECT_EQ(c.lines_size(), 7);
    }
    ++checkouts;
    lines += c.lines_size();
    anonymous += c.customer_id().empty() ? 1 : 0;
    if (c.invoice_no() == "542806") runs_of_542806.push_back(c.lines_size());
    for (const v1::Line& l : c.lines()) {
      quantity += l.quantity();
      price_micros += l.unit_price_micros();
    }
  }
  EXPECT_EQ(c.lines_size(), 0);
  EXPECT_EQ(checkouts, 25'901);
  EXPECT_EQ(lines, 541'909);
  EXPECT_EQ(reader->stats().rows_read, 541'909);
  EXPECT_EQ(reader->stats().rows_skipped, 0);
  EXPECT_EQ(reader->stats().checkouts, 25'901);
  // Sums and run shapes computed with Python's csv and decimal modules over the same file.
  EXPECT_EQ(quantity, 5'176'450);
  EXPECT_EQ(price_micros, 2'498'803'974'000);
  EXPECT_EQ(anonymous, 3'710);
  EXPECT_EQ(runs_of_542806, (std::vector<int>{4, 35}));
  EXPECT_EQ(reader->bytes_read(), reader->file_size());
}
#endif

}  // namespace
}  // namespace segstream::ingest
