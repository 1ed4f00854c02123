// Server-Sent Events fan-out (WHATWG HTML §9.2 "Server-sent events"). Producers call
// SseHub::Publish from any thread; the HTTP server attaches every client of an event-stream route
// (Router::AddEventStream) to the hub. Each client owns a bounded queue: a client that falls behind
// by more than the bound is dropped (its connection closed; EventSource reconnects by itself),
// never buffered forever, and never slows the publisher or the other clients.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace segstream::serve {

struct SseOptions {
  // Per client: bytes queued and not yet written to the socket (the frame being written
  // included). Beyond it the client is dropped. Default 1 MiB.
  size_t max_queued_bytes = size_t{1} << 20;
  // Per client: frames queued, same rule. Default 1024.
  size_t max_queued_events = 1024;
  // A `: keep-alive` comment goes out when nothing was written for this long, so proxies and
  // browsers keep an idle stream open (DESIGN §6: 15 s).
  std::chrono::milliseconds heartbeat_interval{15'000};
  // Clients attached at once; a further one gets a 503. Default 256.
  size_t max_clients = 256;
  // Sent as `retry:` in the first frame: how long EventSource waits before reconnecting after a
  // drop. Default 3 s.
  std::chrono::milliseconds client_retry{3'000};
};

using SseFrame = std::shared_ptr<const std::string>;

// One event as wire text: `event: <name>` then one `data:` line per line of `data` (the spec
// joins them back with '\n'), then a blank line. CR and LF in `name` are removed.
std::string FormatSseEvent(std::string_view name, std::string_view data);

// The receiving end of a hub, implemented by the server's connection. Deliver() is called with
// the hub's lock held: it must not block and must not call back into the hub.
class SseClient {
 public:
  virtual ~SseClient() = default;
  virtual void Deliver(const SseFrame& frame) = 0;
};

class SseHub {
 public:
  explicit SseHub(SseOptions options = {});
  SseHub(const SseHub&) = delete;
  SseHub& operator=(const SseHub&) = delete;

  // Thread-safe. `data_json` is sent as is (one JSON document; newlines are allowed). The frame is
  // formatted once and shared by every client.
  void Publish(std::string_view event_name, std::string_view data_json);

  size_t client_count() const;
  uint64_t published_total() const;
  // Clients closed because their queue overflowed (for metrics).
  uint64_t dropped_total() const;
  const SseOptions& options() const { return options_; }

  // Server side. Attach returns false when `max_clients` are attached. After Detach returns, the
  // hub never touches `client` again. The hub keeps only a weak reference.
  bool Attach(const std::shared_ptr<SseClient>& client);
  void Detach(const SseClient* client);
  void CountDrop();

 private:
  const SseOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<const SseClient*, std::weak_ptr<SseClient>> clients_;
  uint64_t published_ = 0;
  uint64_t dropped_ = 0;
};

namespace detail {

// A client's bounded queue between Publish (any thread) and the socket writer (one strand).
// Thread-safe. The writer takes every queued frame, writes them, then calls EndWrite.
class SseQueue {
 public:
  SseQueue(size_t max_bytes, size_t max_events) : max_bytes_(max_bytes), max_events_(max_events) {}

  enum class PushResult {
    kQueued,      // a write is already in progress; it will pick the frame up
    kWakeWriter,  // the writer is idle: the caller must start a write (BeginWrite)
    kOverflow,    // bound exceeded: the queue is now closed, the caller must drop the client
    kClosed,      // already closed; frame discarded
  };
  PushResult Push(SseFrame frame);
  // Pushes bypassing the bounds (the response header, a heartbeat): they are tiny and bounded by
  // the caller's own rate. Same results as Push, never kOverflow.
  PushResult PushUnbounded(SseFrame frame);

  // Frames to write now (everything queued that is not being written). Empty when nothing is due.
  std::vector<SseFrame> BeginWrite();
  // The frames of the last BeginWrite are written. True when more are queued (call BeginWrite
  // again); false when the writer goes idle.
  bool EndWrite();
  void Close();

  size_t queued_bytes() const;
  size_t queued_events() const;

 private:
  PushResult PushLocked(SseFrame frame, bool bounded);

  const size_t max_bytes_;
  const size_t max_events_;
  mutable std::mutex mu_;
  std::deque<SseFrame> queue_;  // front `in_flight_` frames are being written
  size_t in_flight_ = 0;
  size_t bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace detail
}  // namespace segstream::serve
