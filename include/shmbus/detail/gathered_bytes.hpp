// SPDX-License-Identifier: Apache-2.0
// A borrowed message that wraps a ring's end, gathered into one buffer aligned as the ring's
// payloads are (64 bytes), for Queue and Pipe borrows (queue_loan.hpp, pipe_loan.hpp).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace shmbus::detail {

class GatheredBytes {
public:
    GatheredBytes() = default;
    /// Copies `first` then `second` into a buffer of their own.
    GatheredBytes(std::span<const std::byte> first, std::span<const std::byte> second)
        : m_buffer(static_cast<std::byte*>(::operator new[](first.size() + second.size(), kAlign))),
          m_size(first.size() + second.size()) {
        std::memcpy(m_buffer.get(), first.data(), first.size());
        std::memcpy(m_buffer.get() + first.size(), second.data(), second.size());
    }
    /// Empty when nothing was gathered.
    std::span<const std::byte> bytes() const { return {m_buffer.get(), m_size}; }
    bool empty() const { return m_buffer == nullptr; }

private:
    static constexpr std::align_val_t kAlign{64};
    struct AlignedFree {
        void operator()(std::byte* bytes) const { ::operator delete[](bytes, kAlign); }
    };

    std::unique_ptr<std::byte, AlignedFree> m_buffer;
    std::size_t m_size = 0;
};

} // namespace shmbus::detail
