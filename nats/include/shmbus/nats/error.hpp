// SPDX-License-Identifier: Apache-2.0
/// @file
/// NatsError: every failure of the NATS C client (nats.c) surfaces as this shmbus::Error, with
/// the client's own text (natsStatus_GetText, nats_GetLastError) and, for JetStream API calls,
/// the server's error code.
#pragma once

#include "shmbus/errors.hpp"

#include <string>

namespace shmbus::nats {

/// A call into the NATS client failed; what() names the call and carries NATS's text.
class NatsError : public Error {
public:
    /// `status` is the natsStatus value, `js_code` the JetStream error code (0 when none).
    NatsError(const std::string& message, int status, int js_code)
        : Error(message), m_status(status), m_js_code(js_code) {}
    /// The natsStatus of the failed call (NATS_TIMEOUT, NATS_NO_SERVER, ...).
    int status() const noexcept { return m_status; }
    /// The JetStream API error code (jsErrCode), 0 when the server sent none.
    int js_code() const noexcept { return m_js_code; }
    /// True for a timeout: the server did not answer in time (it may still act on the request).
    bool timed_out() const noexcept;

private:
    int m_status;
    int m_js_code;
};

} // namespace shmbus::nats
