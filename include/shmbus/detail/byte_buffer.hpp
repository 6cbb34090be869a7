// SPDX-License-Identifier: Apache-2.0
// A growable byte buffer that, unlike std::vector<std::byte>, never zero-fills what it is
// about to overwrite: messages are copied into it straight from shared memory.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>

namespace shmbus::detail {

class ByteBuffer {
public:
    /// Makes the buffer `size` bytes long; the contents are unspecified afterwards.
    std::byte* resize_for_overwrite(std::size_t size) {
        if (size > m_capacity) {
            m_data = std::make_unique_for_overwrite<std::byte[]>(size);
            m_capacity = size;
        }
        m_size = size;
        return m_data.get();
    }
    /// Appends `size` bytes, keeping what is there.
    void append(const void* data, std::size_t size) {
        if (size == 0) // an empty vector's data() may be null, which memcpy must not get
            return;
        if (m_size + size > m_capacity)
            grow(m_size + size);
        std::memcpy(m_data.get() + m_size, data, size);
        m_size += size;
    }
    void clear() { m_size = 0; }

    std::byte* data() { return m_data.get(); }
    const std::byte* data() const { return m_data.get(); }
    std::size_t size() const { return m_size; }
    std::span<const std::byte> bytes() const { return {m_data.get(), m_size}; }

private:
    void grow(std::size_t needed) {
        std::size_t capacity = m_capacity < 64 ? 64 : m_capacity;
        while (capacity < needed)
            capacity *= 2;
        auto bigger = std::make_unique_for_overwrite<std::byte[]>(capacity);
        if (m_size != 0)
            std::memcpy(bigger.get(), m_data.get(), m_size);
        m_data = std::move(bigger);
        m_capacity = capacity;
    }

    std::unique_ptr<std::byte[]> m_data;
    std::size_t m_size = 0;
    std::size_t m_capacity = 0;
};

} // namespace shmbus::detail
