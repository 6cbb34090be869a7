# SPDX-License-Identifier: Apache-2.0
# core/ is built in layers, lowest first (core/README.md). A file may include the private
# headers of its own folder and of lower layers; an include of a higher layer, or of another
# folder on the same layer, is an error, and so is a source outside the known folders.
#   cmake -DSOURCE_DIR=<repository> -P tools/cmake/check_layers.cmake
set(layer_os 0)
set(layer_segment 1)
set(layer_wait 2)
set(layer_ring 3)
set(layer_messaging 4)
set(layer_sync 4)
set(layer_manager 4)
set(layer_process 5)

file(GLOB_RECURSE sources RELATIVE ${SOURCE_DIR}/core ${SOURCE_DIR}/core/*.cpp
     ${SOURCE_DIR}/core/*.hpp)
set(errors 0)
foreach(source ${sources})
  string(REGEX REPLACE "/.*" "" folder "${source}")
  if(NOT source MATCHES "^[a-z_]+/[^/]+$" OR NOT DEFINED layer_${folder})
    message(SEND_ERROR "core/${source}: not in a folder of a known layer")
    math(EXPR errors "${errors} + 1")
    continue()
  endif()
  file(STRINGS ${SOURCE_DIR}/core/${source} includes REGEX "^#include \"[a-z_]+/")
  foreach(line ${includes})
    string(REGEX REPLACE "^#include \"([a-z_]+)/.*" "\\1" target "${line}")
    if(target STREQUAL folder OR NOT DEFINED layer_${target})
      continue()
    endif()
    if(NOT layer_${target} LESS layer_${folder})
      message(SEND_ERROR "core/${source} (layer ${layer_${folder}}) includes ${target}/ "
                         "(layer ${layer_${target}}): ${line}")
      math(EXPR errors "${errors} + 1")
    endif()
  endforeach()
endforeach()
list(LENGTH sources count)
if(errors EQUAL 0)
  message(STATUS "${count} files in core/, every include runs to its own or a lower layer")
endif()
