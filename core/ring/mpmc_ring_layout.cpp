// SPDX-License-Identifier: Apache-2.0
// MpmcRing's layout in memory (ring/mpmc_ring_layout.hpp): how many bytes a ring of N slots
// takes, building an empty one, checking one found in a segment, and attaching to it.
#include "ring/mpmc_ring.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"

#include <new>
#include <string>

namespace shmbus::detail {
namespace {

constexpr std::uint64_t kLeasesOffset = sizeof(MpmcRingHeader);
constexpr std::uint64_t kControlOffset = kLeasesOffset + sizeof(RingLease) * kRingLeases;

std::uint64_t data_offset(std::uint64_t slot_count) {
    return kControlOffset + slot_count * sizeof(RingControl);
}

} // namespace

std::size_t MpmcRing::bytes_for(std::uint64_t slot_count) {
    const std::uint64_t slot_bytes = sizeof(RingControl) + kSlotBytes;
    return add_size(kControlOffset, mul_size(slot_count, slot_bytes, "an MPMC ring"),
                    "an MPMC ring");
}

void MpmcRing::init(void* at, std::uint64_t slot_count, bool biased) {
    auto* header = new (at) MpmcRingHeader{};
    header->magic = kMpmcRingHeaderMagic;
    header->version = kMpmcRingHeaderVersion;
    header->lease_count = kRingLeases;
    header->slot_count = slot_count;
    header->leases_offset = kLeasesOffset;
    header->control_offset = kControlOffset;
    header->data_offset = data_offset(slot_count);
    // relaxed is enough: the object directory publishes the initialised state.
    header->reclaim.store(slot_count, std::memory_order_relaxed); // the whole first lap is free
    const BiasMode mode = biased ? BiasMode::open : BiasMode::off;
    // relaxed is enough (both): published with the ring, as above.
    header->put_bias.mode.store(mode, std::memory_order_relaxed);
    header->get_bias.mode.store(mode, std::memory_order_relaxed);
    char* base = static_cast<char*>(at);
    for (std::uint32_t i = 0; i < kRingLeases; ++i) {
        auto* lease = new (base + kLeasesOffset + i * sizeof(RingLease)) RingLease{};
        // relaxed is enough: the ring is published later by the directory's ready store.
        lease->put_pos.store(kNoPosition, std::memory_order_relaxed);
        lease->get_pos.store(kNoPosition, std::memory_order_relaxed);
    }
    for (std::uint64_t i = 0; i < slot_count; ++i) {
        auto* control = new (base + kControlOffset + i * sizeof(RingControl)) RingControl{};
        // relaxed is enough: the object directory publishes the initialised state.
        control->seq.store(i, std::memory_order_relaxed);
    }
}

std::optional<std::string> validate(const MpmcRingHeader& header, std::uint64_t bytes) {
    if (auto problem = stamp_problem("mpmc ring", header.magic, kMpmcRingHeaderMagic,
                                     header.version, kMpmcRingHeaderVersion))
        return problem;
    const std::uint64_t slots = header.slot_count;
    const bool power_of_two = slots != 0 && (slots & (slots - 1)) == 0;
    if (header.lease_count != kRingLeases || header.leases_offset != kLeasesOffset ||
        header.control_offset != kControlOffset || !power_of_two || slots > (bytes >> 6) ||
        header.data_offset != data_offset(slots) || MpmcRing::bytes_for(slots) > bytes)
        return "mpmc ring: header does not describe a ring that fits in " + std::to_string(bytes) +
               " bytes";
    for (const SideBias* bias : {&header.put_bias, &header.get_bias}) {
        // relaxed is enough: a validity check; a value forged later only makes that side use CAS.
        const auto mode = static_cast<std::uint32_t>(bias->mode.load(std::memory_order_relaxed));
        if (mode > static_cast<std::uint32_t>(BiasMode::off))
            return "mpmc ring: a side's bias mode is " + std::to_string(mode);
    }
    return std::nullopt;
}

MpmcRing::MpmcRing(void* at, std::size_t bytes) : m_header(static_cast<MpmcRingHeader*>(at)) {
    if (auto problem = state_problem<MpmcRingHeader>(at, bytes))
        throw CorruptSegment(*problem);
    const MpmcRingHeader& h = *m_header;
    char* base = static_cast<char*>(at);
    m_leases = reinterpret_cast<RingLease*>(base + kLeasesOffset);
    m_control = reinterpret_cast<RingControl*>(base + kControlOffset);
    m_data = reinterpret_cast<unsigned char*>(base + h.data_offset);
    m_mask = h.slot_count - 1;
}

} // namespace shmbus::detail
