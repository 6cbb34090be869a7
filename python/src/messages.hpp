// SPDX-License-Identifier: Apache-2.0
// Messages as the module's queues and topics carry them: Python values packed by Python's
// msgpack travel through C++ as MsgpackBytes, never decoded there, so C++ opens the objects with
// shmbus::MsgpackCodec.
#pragma once

#include "common.hpp"

#include <cstddef>
#include <shmbus/msgpack_codec.hpp>
#include <span>
#include <string>

namespace shmbus::python {

inline MsgpackBytes packed(const py::handle& value) {
    const std::string bytes = pack(value);
    const auto* data = reinterpret_cast<const std::byte*>(bytes.data());
    return MsgpackBytes{{data, data + bytes.size()}};
}

inline py::object unpacked(std::span<const std::byte> bytes) {
    return unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

} // namespace shmbus::python
