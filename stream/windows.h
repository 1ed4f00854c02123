// Event-time windows of DESIGN §3: `all`, and `last <duration>` ending at the watermark, built
// from fixed event-time panes. Pure: the watermark and every time are parameters.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace segstream::stream {

struct WindowOptions {
  // Pane width: the granularity of every `last <duration>` window. Default 1 h.
  int64_t pane_ms = 3'600'000;
  // Panes older than (newest event seen - retention) are dropped; an event older than that is
  // late: it still counts in `all`, and in segstream_late_events_total. Default 31 d, so the
  // largest window (30 d) is always whole.
  int64_t retention_ms = 31LL * 24 * 3'600'000;
  // Watermark = max event time seen - allowed lateness (min over partitions). Default 5 min.
  int64_t allowed_lateness_ms = 5 * 60'000;
};

// Start of the pane holding `t_ms` (floor division, also for negative times).
int64_t PaneStart(int64_t t_ms, int64_t pane_ms);

// A named window: "all" (nullopt duration) or one of "1h", "24h", "7d", "30d".
struct WindowSpec {
  std::string_view name;
  std::optional<int64_t> duration_ms;
};
// The windows served, in display order.
const std::vector<WindowSpec>& ServedWindows();
std::optional<WindowSpec> FindWindow(std::string_view name);

// Panes [first, last] (pane starts, inclusive) of `last <duration>` at `watermark_ms`: the
// duration/pane most recent panes up to and including the pane that holds the watermark. Events
// in later panes (beyond the watermark) join the window as the watermark advances.
struct PaneRange {
  int64_t first = 0;
  int64_t last = -1;  // empty when last < first
  bool Contains(int64_t pane_start) const { return pane_start >= first && pane_start <= last; }
};
PaneRange WindowPanes(int64_t watermark_ms, int64_t duration_ms, int64_t pane_ms);

// Oldest pane start kept when the newest event seen is `max_event_ms`.
int64_t RetentionCutoff(int64_t max_event_ms, const WindowOptions& options);

}  // namespace segstream::stream
