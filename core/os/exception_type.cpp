// SPDX-License-Identifier: Apache-2.0
#include "os/exception_type.hpp"

#include <cstdlib>
#include <cxxabi.h>
#include <typeinfo>

namespace shmbus::detail {

std::string current_exception_type() {
    const std::type_info* type = abi::__cxa_current_exception_type();
    if (type == nullptr)
        return "unknown exception";
    int status = 0;
    char* demangled = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
    std::string name = (status == 0 && demangled != nullptr) ? demangled : type->name();
    std::free(demangled);
    return name;
}

} // namespace shmbus::detail
