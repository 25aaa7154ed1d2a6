# Formatting and static-analysis targets (tests/lint/, .clang-format, .clang-tidy).
#
#   cmake --build --preset release --target format        rewrite our C++ in place (clang-format 14)
#   cmake --build --preset release --target format-check  fail listing each file that needs it
#   cmake --build --preset release --target tidy          clang-tidy over our .cc files (slow: minutes)
#
# The same format check runs as the ctest test lint.format (label lint).
find_program(SAMORDNA_CLANG_FORMAT NAMES clang-format-14 clang-format)
find_program(SAMORDNA_CLANG_TIDY NAMES clang-tidy-14 clang-tidy)
find_program(SAMORDNA_BASH NAMES bash REQUIRED)

set(_samordna_format_script "${PROJECT_SOURCE_DIR}/tests/lint/check_format.sh")
set(_samordna_format_env "CLANG_FORMAT=${SAMORDNA_CLANG_FORMAT}")
if(NOT SAMORDNA_CLANG_FORMAT)
  set(_samordna_format_env "CLANG_FORMAT=")
endif()

add_custom_target(format
  COMMAND ${CMAKE_COMMAND} -E env ${_samordna_format_env}
          ${SAMORDNA_BASH} ${_samordna_format_script} --fix ${PROJECT_SOURCE_DIR}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "clang-format: formatting our C++ sources"
  USES_TERMINAL VERBATIM)

add_custom_target(format-check
  COMMAND ${CMAKE_COMMAND} -E env ${_samordna_format_env}
          ${SAMORDNA_BASH} ${_samordna_format_script} ${PROJECT_SOURCE_DIR}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "clang-format: checking our C++ sources"
  USES_TERMINAL VERBATIM)

# clang-tidy reads the compile database of this build tree. GCC-only warning flags in it make
# clang-tidy 14 fail, hence -Wno-unknown-warning-option. Generated protobuf code is compiled
# from build trees and never listed here.
if(SAMORDNA_CLANG_TIDY)
  add_custom_target(tidy
    COMMAND ${SAMORDNA_BASH} -c
      "git ls-files -- 'engine/*.cc' 'rules/*.cc' 'connectors/*.cc' | xargs -r -n 4 -P 2 '${SAMORDNA_CLANG_TIDY}' -p '${CMAKE_BINARY_DIR}' --quiet --extra-arg=-Wno-unknown-warning-option"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "clang-tidy: checking our C++ sources against .clang-tidy"
    USES_TERMINAL VERBATIM)
endif()
