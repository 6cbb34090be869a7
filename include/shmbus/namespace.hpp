// SPDX-License-Identifier: Apache-2.0
/// @file
/// Namespace: Python's SyncManager.Namespace(), named values of any encodable type shared by
/// processes. Python writes `ns.x = 1` and reads `ns.x`; C++ has no dynamic attributes, so:
///
/// @code
///   shmbus::Manager m;
///   auto ns = m.namespace_();                     // Python: ns = manager.Namespace()
///   ns.set("x", 1);                               // ns.x = 1
///   int x = ns.get<int>("x");                     // ns.x           (KeyError when missing)
///   int y = ns.get<int>("y", 0);                  // getattr(ns, "y", 0)
///   ns.update<int>("x", [](int& v) { ++v; });     // atomic: no lost increment
///   ns.erase("x");                                // del ns.x
/// @endcode
///
/// Each attribute keeps the type it was set with (its codec type tag): get<T> of an attribute
/// set as another type is KindMismatch, as a read of the wrong type from any shmbus object is.
/// set() may change an attribute's type, as Python's assignment does. A Namespace is a Dict
/// underneath (ContainerOptions: capacity, crashes), so each call is atomic; like Python's,
/// `ns.set("x", ns.get<int>("x") + 1)` is two calls and races, where update() does not.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/dict.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/segment.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shmbus {

/// Named values of any encodable types in shared memory (Python's Manager().Namespace()).
/// Copies are handles to the same Namespace; see the top of this file.
class Namespace {
public:
    /// An anonymous Namespace in the default segment, inherited by forked children.
    Namespace() : Namespace(Segment::default_segment(), "") {}
    /// Opens the Namespace `name` in `segment`, creating it with `options` when missing; an
    /// empty name makes an anonymous one.
    Namespace(const Segment& segment, std::string_view name, const ContainerOptions& options = {})
        : m_attributes(segment, name, options) {}

    /// Python's `ns.name = value`: sets the attribute, whatever type it had. Full when it does
    /// not fit.
    template <class T>
    void set(std::string_view name, const T& value) {
        m_attributes.set(name, Attribute::of(value));
    }
    /// Python's `ns.name`: KeyError (Python's AttributeError) when there is no such attribute,
    /// KindMismatch when it holds another type than T.
    template <class T>
    T get(std::string_view name) const {
        const auto attribute = m_attributes.try_get(name);
        if (!attribute)
            throw KeyError("namespace has no attribute '" + std::string(name) + "'");
        return attribute->template as<T>(name);
    }
    /// Python's getattr(ns, name, fallback).
    template <class T>
    T get(std::string_view name, T fallback) const {
        const auto attribute = m_attributes.try_get(name);
        return attribute ? attribute->template as<T>(name) : std::move(fallback);
    }
    /// Python's hasattr(ns, name).
    bool contains(std::string_view name) const { return m_attributes.contains(name); }
    /// Python's `del ns.name`: KeyError when there is no such attribute.
    void erase(std::string_view name) { m_attributes.erase(name); }
    /// The attribute names, in the order they were first set (Python's vars(ns)).
    std::vector<std::string> names() const { return m_attributes.keys(); }

    /// Atomic read-modify-write of the attribute `name` as T (Dict::update): `fn(T&)` changes
    /// it in place or returns the new value. KeyError when missing, KindMismatch when it holds
    /// another type.
    template <class T, class F>
    T update(std::string_view name, F fn) {
        T result{};
        m_attributes.update(name, [&](Attribute& attribute) {
            result = attribute.template as<T>(name);
            detail::apply_update(result, fn);
            attribute = Attribute::of(result);
        });
        return result;
    }

    /// The segment the Namespace lives in.
    const Segment& segment() const { return m_attributes.segment(); }

private:
    /// One attribute as stored: its type's tag and its encoding.
    struct Attribute {
        std::uint64_t tag = 0;
        std::string bytes;

        template <class T>
        static Attribute of(const T& value) {
            const auto encoded = detail::encoded<CerealCodec>(value);
            return {CerealCodec::type_tag<T>(),
                    std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size())};
        }
        template <class T>
        T as(std::string_view name) const {
            if (tag != CerealCodec::type_tag<T>())
                throw KindMismatch("namespace attribute '" + std::string(name) +
                                   "' holds another type");
            return CerealCodec::decode<T>(std::as_bytes(std::span(bytes.data(), bytes.size())));
        }
        template <class Archive>
        void serialize(Archive& archive) {
            archive(tag, bytes);
        }
    };

    Dict<Attribute> m_attributes;
};

} // namespace shmbus
