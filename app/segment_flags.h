// The customer-segment flags shared by `worker` and `run`.
#pragma once

#include <CLI/CLI.hpp>

#include "ingest/segmenter.h"

namespace segstream::app {

// --segments, --segment-seed, --segment-init-customers, --segment-hysteresis and the --drift-*
// monitor options into `options`
// (which must outlive the parse).
void AddSegmentFlags(CLI::App* cmd, ingest::SegmenterOptions* options);

}  // namespace segstream::app
