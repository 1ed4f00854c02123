#include "serve/sse.h"

#include <utility>

namespace segstream::serve {

std::string FormatSseEvent(std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(name.size() + data.size() + 16);
  if (!name.empty()) {
    out += "event: ";
    for (char c : name) {
      if (c != '\r' && c != '\n') out.push_back(c);
    }
    out += '\n';
  }
  // Lines end at CRLF, LF or CR (WHATWG HTML §9.2.5); each becomes its own data: field.
  size_t start = 0;
  while (true) {
    const size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  out += '\n';
  return out;
}

SseHub::SseHub(SseOptions options) : options_(options) {}

void SseHub::Publish(std::string_view event_name, std::string_view data_json) {
  auto frame = std::make_shared<const std::string>(FormatSseEvent(event_name, data_json));
  std::lock_guard lock(mu_);
  ++published_;
  for (auto it = clients_.begin(); it != clients_.end();) {
    // The locked pointer may be the last owner; a client's destructor must not take mu_.
    if (auto client = it->second.lock()) {
      client->Deliver(frame);
      ++it;
    } else {
      it = clients_.erase(it);
    }
  }
}

size_t SseHub::client_count() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

uint64_t SseHub::published_total() const {
  std::lock_guard lock(mu_);
  return published_;
}

uint64_t SseHub::dropped_total() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

bool SseHub::Attach(const std::shared_ptr<SseClient>& client) {
  std::lock_guard lock(mu_);
  if (clients_.size() >= options_.max_clients) return false;
  clients_[client.get()] = client;
  return true;
}

void SseHub::Detach(const SseClient* client) {
  std::lock_guard lock(mu_);
  clients_.erase(client);
}

void SseHub::CountDrop() {
  std::lock_guard lock(mu_);
  ++dropped_;
}

namespace detail {

SseQueue::PushResult SseQueue::PushLocked(SseFrame frame, bool bounded) {
  if (closed_) return PushResult::kClosed;
  if (bounded && (queue_.size() + 1 > max_events_ || bytes_ + frame->size() > max_bytes_)) {
    closed_ = true;
    return PushResult::kOverflow;
  }
  bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (writing_) return PushResult::kQueued;
  writing_ = true;
  return PushResult::kWakeWriter;
}

SseQueue::PushResult SseQueue::Push(SseFrame frame) {
  std::lock_guard lock(mu_);
  return PushLocked(std::move(frame), true);
}

SseQueue::PushResult SseQueue::PushUnbounded(SseFrame frame) {
  std::lock_guard lock(mu_);
  return PushLocked(std::move(frame), false);
}

std::vector<SseFrame> SseQueue::BeginWrite() {
  std::lock_guard lock(mu_);
  std::vector<SseFrame> out(queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_), queue_.end());
  in_flight_ = queue_.size();
  return out;
}

bool SseQueue::EndWrite() {
  std::lock_guard lock(mu_);
  for (; in_flight_ > 0; --in_flight_) {
    bytes_ -= queue_.front()->size();
    queue_.pop_front();
  }
  writing_ = !queue_.empty() && !closed_;
  return writing_;
}

void SseQueue::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

size_t SseQueue::queued_bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t SseQueue::queued_events() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace detail
}  // namespace segstream::serve
