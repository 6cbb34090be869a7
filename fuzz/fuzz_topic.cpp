// SPDX-License-Identifier: Apache-2.0
// A Topic's state with forged bytes: a named segment holds one topic with a few messages, a
// lapped subscriber and a publisher lease; its state is restored before each input and then
// patched with it. Input format: repeated [u8 region][u16 offset][u8 length][bytes]; region
// (mod 5) picks the immutable header, the next/joins line, the publisher table, the subscriber
// table (cursors) or the slot headers. Opening may give CorruptSegment; subscribing and
// publishing may give CorruptSegment, OutOfSpace or Lagged; recv may give Lagged or
// DecodeError. Nothing may crash, read outside the object, or spin forever.
#include "messaging/topic_state.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <shmbus/errors.hpp>
#include <shmbus/topic.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace shmbus;
using namespace shmbus::detail;

constexpr std::size_t kCapacity = 8;
constexpr std::size_t kHandles = 4;

TopicOptions topic_options() {
    return TopicOptions{.capacity = kCapacity,
                        .max_message_size = 128,
                        .history = 2,
                        .slow_subscriber = SlowSubscriber::overwrite,
                        .max_publishers = kHandles,
                        .max_subscribers = kHandles};
}

class TopicImage {
public:
    TopicImage()
        : m_name("shmbus-fuzz-topic-" + std::to_string(getpid())),
          m_segment(Segment::create(m_name, std::size_t{1} << 20)) {
        Segment::unlink(m_name); // the mapping stays; nothing is left in /dev/shm
        auto topic = Topic<std::string>::create(m_segment, "t", topic_options());
        auto lapped = topic.subscribe();
        for (int i = 0; i < 12; ++i)
            topic.publish(std::string(static_cast<std::size_t>(10 + 9 * i), 'm'));
        const ObjectRef object = attach_object(
            m_segment, "t", {ObjectKind::topic, 0, kCacheLine, type_tag<std::string>()},
            OpenMode::open, [](void*) {});
        m_bytes = &object.state<unsigned char>();
        m_size = object.size();
        m_template.assign(m_bytes, m_bytes + m_size);
        // The lapped subscriber's entry stays taken in the template, owned by this process.
        lapped_entry_kept = std::make_unique<Subscriber<std::string>>(std::move(lapped));
    }

    const Segment& segment() const { return m_segment; }

    void load(const std::uint8_t* data, std::size_t size) {
        std::memcpy(m_bytes, m_template.data(), m_size);
        const std::size_t tables = kHandles * kCacheLine;
        const std::size_t starts[5] = {0, kCacheLine, sizeof(TopicState),
                                       sizeof(TopicState) + tables,
                                       sizeof(TopicState) + 2 * tables};
        const std::size_t spans[5] = {kCacheLine, 16, tables, tables, m_size - starts[4]};
        while (size >= 4) {
            const std::size_t r = data[0] % 5;
            const std::size_t offset = data[1] | (std::size_t{data[2]} << 8);
            const std::size_t length = std::min<std::size_t>(data[3], size - 4);
            const std::size_t at = starts[r] + offset % spans[r];
            std::memcpy(m_bytes + at, data + 4, std::min(length, m_size - at));
            data += 4 + length;
            size -= 4 + length;
        }
    }

private:
    std::string m_name;
    Segment m_segment;
    unsigned char* m_bytes = nullptr;
    std::size_t m_size = 0;
    std::vector<unsigned char> m_template;
    std::unique_ptr<Subscriber<std::string>> lapped_entry_kept;
};

void drain(Subscriber<std::string>& subscriber) {
    for (std::size_t i = 0; i < 3 * kCapacity; ++i) {
        try {
            if (!subscriber.try_recv())
                return;
        } catch (const Lagged&) {
        } catch (const DecodeError&) {
        }
    }
}

void exercise(const Segment& segment) {
    try {
        auto topic = Topic<std::string>::open(segment, "t");
        auto subscriber = topic.subscribe();
        drain(subscriber);
        for (int i = 0; i < 3; ++i)
            (void)topic.try_publish(std::string(static_cast<std::size_t>(1 + 40 * i), 'p'));
        drain(subscriber);
        (void)topic.recover_dead();
        (void)subscriber.pending();
        (void)topic.messages_in();
    } catch (const CorruptSegment&) {
    } catch (const OutOfSpace&) { // every entry forged as held by a live process
    } catch (const MessageTooLarge&) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static TopicImage image;
    image.load(data, size);
    exercise(image.segment());
    return 0;
}
