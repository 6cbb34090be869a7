# SPDX-License-Identifier: Apache-2.0
# Every design document a source comment points at (docs/...md, research/...) must exist, so a
# reader who follows a comment finds what it promises.
#   cmake -DSOURCE_DIR=<repository> -P tools/cmake/check_doc_references.cmake
set(missing 0)
foreach(folder core include tools tests fuzz)
  file(GLOB_RECURSE files ${SOURCE_DIR}/${folder}/*.cpp ${SOURCE_DIR}/${folder}/*.hpp
       ${SOURCE_DIR}/${folder}/*.md)
  foreach(path ${files})
    file(STRINGS ${path} lines REGEX "(docs/[a-z_/-]+\\.md|research/)")
    foreach(line ${lines})
      string(REGEX MATCHALL "(docs/[a-z_/-]+\\.md|research/[a-z_./-]*)" references "${line}")
      foreach(reference ${references})
        if(NOT EXISTS ${SOURCE_DIR}/${reference})
          file(RELATIVE_PATH relative ${SOURCE_DIR} ${path})
          message(SEND_ERROR "${relative} points at ${reference}, which does not exist")
          math(EXPR missing "${missing} + 1")
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()
