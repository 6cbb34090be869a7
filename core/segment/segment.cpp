// SPDX-License-Identifier: Apache-2.0
#include "shmbus/segment.hpp"

#include "os/presence.hpp"
#include "segment/mapping.hpp"
#include "segment/segment_file.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"

#include <array>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <unistd.h>

namespace bip = boost::interprocess;

namespace shmbus {
namespace {

using detail::Deadline;
using detail::kHeapOffset;
using detail::Mapping;
using detail::Removal;
using detail::SegmentHeader;

constexpr int kRaceAttempts = 8; // each failed attempt means another process won a race

constexpr std::array kKindNames{
    "unknown", "lock",  "rlock", "semaphore", "bounded_semaphore", "event", "condition",
    "barrier", "value", "array", "queue",     "joinable_queue",    "pipe",  "dict",
    "list",    "pool",  "topic"};

} // namespace

std::string_view to_string(ObjectKind kind) {
    const auto index = static_cast<std::uint32_t>(kind);
    return index < kKindNames.size() ? kKindNames[index] : kKindNames[0];
}

void Segment::validate_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength)
        throw InvalidName("segment name must have 1 to 200 characters, got " +
                          std::to_string(name.size()));
    if (name == "." || name == "..")
        throw InvalidName("segment name '" + std::string(name) + "' is reserved");
    for (char c : name)
        if (!detail::is_name_char(c))
            throw InvalidName("segment name '" + std::string(name) +
                              "' may only hold letters, digits, '.', '_' and '-'");
}

Segment::Segment(std::shared_ptr<detail::Mapping> mapping) : m_mapping(std::move(mapping)) {}

Segment Segment::create(std::string_view name, std::size_t size, unsigned mode) {
    validate_name(name);
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    if (size < detail::kMinSegmentSize || size > kMaxSize)
        throw OutOfSpace("segment size " + std::to_string(size) + " lies outside [" +
                         std::to_string(detail::kMinSegmentSize) + ", " + std::to_string(kMaxSize) +
                         "] bytes");
    size = detail::round_up_size(size, page, "a segment");
    for (int attempt = 0; attempt < kRaceAttempts; ++attempt)
        if (std::optional<Segment> segment = detail::try_create(name, size, mode))
            return *std::move(segment);
    throw SystemError("segment '" + std::string(name) + "': removed by a stale-segment remover " +
                      std::to_string(kRaceAttempts) + " times while being created");
}

Segment Segment::open(std::string_view name, std::chrono::milliseconds ready_timeout) {
    validate_name(name);
    const Deadline ready_by = Deadline::after(ready_timeout);
    for (int attempt = 0; attempt < kRaceAttempts; ++attempt) {
        bip::shared_memory_object shm = detail::open_object(name);
        std::shared_ptr<Mapping> mapping = detail::map_opened(shm, name, ready_by);
        if (detail::attach_if_current(*mapping, name))
            return Segment(std::move(mapping));
    }
    throw NotFound("segment '" + std::string(name) + "': removed while being opened");
}

Segment Segment::observe(std::string_view name, std::chrono::milliseconds ready_timeout) {
    validate_name(name);
    bip::shared_memory_object shm = detail::open_object(name);
    return Segment(detail::map_opened(shm, name, Deadline::after(ready_timeout)));
}

Segment Segment::open_or_create(std::string_view name, std::size_t size, unsigned mode) {
    validate_name(name);
    for (int attempt = 0; attempt < kRaceAttempts; ++attempt) {
        try {
            return create(name, size, mode);
        } catch (const AlreadyExists&) {
        }
        std::optional<bip::shared_memory_object> shm;
        try {
            shm.emplace(detail::open_object(name));
        } catch (const NotFound&) {
            continue; // removed between our create and open: create again
        }
        const int fd = shm->get_mapping_handle().handle;
        switch (detail::remove_if_unused(fd, name)) {
        case Removal::removed:
        case Removal::replaced:
            continue;
        case Removal::undecidable:
            throw CorruptSegment("segment '" + std::string(name) +
                                 "': not a segment of this shmbus layout; not replaced");
        case Removal::in_use:
            break;
        }
        std::shared_ptr<Mapping> mapping =
            detail::map_opened(*shm, name, Deadline::after(std::chrono::seconds(1)));
        if (detail::attach_if_current(*mapping, name))
            return Segment(std::move(mapping));
    }
    throw SystemError("segment '" + std::string(name) + "': open_or_create lost " +
                      std::to_string(kRaceAttempts) + " races in a row");
}

bool Segment::unlink(std::string_view name) {
    validate_name(name);
    if (bip::shared_memory_object::remove(std::string(name).c_str()))
        return true;
    if (errno == EACCES || errno == EPERM)
        throw PermissionDenied("segment '" + std::string(name) + "': permission denied");
    return false;
}

bool Segment::unlink_if_stale(std::string_view name) {
    validate_name(name);
    bip::shared_memory_object shm = detail::open_object(name);
    return detail::remove_if_unused(shm.get_mapping_handle().handle, name) == Removal::removed;
}

Liveness Segment::liveness_of(std::string_view name) {
    validate_name(name);
    try {
        bip::shared_memory_object shm = detail::open_object(name);
        const int fd = shm.get_mapping_handle().handle;
        if (!detail::holds_this_layout(fd))
            return Liveness::unknown;
        return detail::presence_of(fd) == detail::Presence::present ? Liveness::live
                                                                    : Liveness::stale;
    } catch (const Error&) {
        return Liveness::unknown;
    }
}

const std::string& Segment::name() const {
    return m_mapping->name();
}

std::size_t Segment::size() const {
    return m_mapping->size();
}

std::size_t Segment::bytes_free() const {
    const SegmentHeader& header = m_mapping->header();
    // Read without the directory lock: an estimate, as documented.
    const std::uint64_t used = std::min<std::uint64_t>(header.heap_used, size() - kHeapOffset);
    return static_cast<std::size_t>(size() - kHeapOffset - used);
}

std::vector<AttachedProcess> Segment::processes() const {
    std::vector<AttachedProcess> result;
    const detail::ProcessSlot* table = detail::process_table(m_mapping->header());
    const std::uint64_t here = detail::this_pid_namespace();
    for (std::uint32_t i = 0; i < detail::kMaxProcesses; ++i) {
        // relaxed is enough: a description of the slot's holder; its lock says if it lives.
        const std::int32_t pid = table[i].pid.load(std::memory_order_relaxed);
        const std::uint64_t start = table[i].start_time.load(std::memory_order_relaxed);
        const std::uint64_t ns = table[i].pid_namespace.load(std::memory_order_relaxed);
        if (pid != 0)
            result.push_back({pid, start, m_mapping->slot_alive(i), ns == here});
    }
    return result;
}

Liveness Segment::liveness() const {
    return m_mapping->presence() == detail::Presence::present ? Liveness::live : Liveness::stale;
}

bool Segment::stale() const {
    return liveness() == Liveness::stale;
}

std::string_view to_string(Liveness liveness) {
    switch (liveness) {
    case Liveness::live:
        return "live";
    case Liveness::stale:
        return "stale";
    case Liveness::unknown:
        break;
    }
    return "unknown";
}

} // namespace shmbus
