# SPDX-License-Identifier: Apache-2.0
# Debian packages from `cpack -G DEB`, one per install component:
#   libshmbus-dev  headers, static and shared libraries, CMake and pkg-config files
#   shmbus-tools   the shmbus CLI
# Configure with -DCMAKE_INSTALL_PREFIX=/usr so that libraries go to the multiarch directory.
set(CPACK_PACKAGE_NAME shmbus)
set(CPACK_PACKAGE_VENDOR shmbus)
set(CPACK_PACKAGE_CONTACT "shmbus maintainers <shmbus@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL development tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Runtime dependencies of the shipped binaries (libc6, libstdc++6, libgcc-s1) from dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libshmbus-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# The installed headers include cereal (codec.hpp); Boost is used inside the library only.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "libcereal-dev")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
    "${PROJECT_DESCRIPTION}: headers, static and shared libraries, CMake and pkg-config files")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME shmbus-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
    "shmbus: list, inspect, watch and clean up shmbus shared-memory segments; shmbus bench")

include(CPack)
