// The segment a Pool lives in.
#include "detail/pool_engine.hpp"

#include <atomic>
#include <string>
#include <unistd.h>

namespace shmbus::detail {
namespace {

std::atomic<unsigned> g_pool_counter{0};

std::string default_segment_name() {
    // relaxed is enough: the counter only hands out distinct numbers.
    const unsigned n = g_pool_counter.fetch_add(1, std::memory_order_relaxed);
    return "shmbus-pool-" + std::to_string(::getpid()) + "-" + std::to_string(n);
}

} // namespace

OwnedSegment::OwnedSegment(const std::string& requested_name, std::size_t size)
    : m_name(requested_name.empty() ? default_segment_name() : requested_name),
      m_segment(Segment::create(m_name, size)) {}

OwnedSegment::~OwnedSegment() {
    Segment::unlink(m_name);
}

} // namespace shmbus::detail
