// SPDX-License-Identifier: Apache-2.0
// A bridge (run_bridge_out / run_bridge_in) running in a thread of the test until stopped, and
// the running test's name, from which the bridge tests make their subjects and object names.
#pragma once

#include "shmbus/nats/bridge.hpp"

#include <atomic>
#include <exception>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <thread>

namespace shmbus::nats::test {

inline std::string test_name() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

class BridgeThread {
public:
    BridgeThread(bool outbound, const BridgeOptions& options)
        : m_thread([this, outbound, options] {
              try {
                  if (outbound)
                      run_bridge_out(options, m_stop, m_log);
                  else
                      run_bridge_in(options, m_stop, m_log);
              } catch (const std::exception& error) {
                  m_log << "bridge ended: " << error.what();
              }
          }) {}
    ~BridgeThread() { stop(); }
    BridgeThread(const BridgeThread&) = delete;
    BridgeThread& operator=(const BridgeThread&) = delete;
    void stop() {
        m_stop = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    std::string log() const { return m_log.str(); }

private:
    std::atomic<bool> m_stop{false};
    std::ostringstream m_log;
    std::thread m_thread;
};

} // namespace shmbus::nats::test
