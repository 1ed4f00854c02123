#include "stream/windows.h"

namespace segstream::stream {

int64_t PaneStart(int64_t t_ms, int64_t pane_ms) {
  int64_t q = t_ms / pane_ms;
  if (t_ms % pane_ms != 0 && t_ms < 0) --q;
  return q * pane_ms;
}

const std::vector<WindowSpec>& ServedWindows() {
  static const std::vector<WindowSpec> kWindows = {
      {"all", std::nullopt},          {"1h", 3'600'000LL},
      {"24h", 24LL * 3'600'000},      {"7d", 7LL * 24 * 3'600'000},
      {"30d", 30LL * 24 * 3'600'000},
  };
  return kWindows;
}

std::optional<WindowSpec> FindWindow(std::string_view name) {
  for (const WindowSpec& w : ServedWindows()) {
    if (w.name == name) return w;
  }
  return std::nullopt;
}

PaneRange WindowPanes(int64_t watermark_ms, int64_t duration_ms, int64_t pane_ms) {
  const int64_t last = PaneStart(watermark_ms, pane_ms);
  const int64_t panes = (duration_ms + pane_ms - 1) / pane_ms;
  return {last - (panes - 1) * pane_ms, last};
}

int64_t RetentionCutoff(int64_t max_event_ms, const WindowOptions& options) {
  return PaneStart(max_event_ms - options.retention_ms, options.pane_ms);
}

}  // namespace segstream::stream
