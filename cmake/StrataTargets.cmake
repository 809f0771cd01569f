# SPDX-License-Identifier: Apache-2.0
# strata_add_layer(): the one way a layer library is declared, so every layer gets the same
# include layout (public include/strata/<layer>/, private src/), warnings, export name and install.

set(STRATA_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wconversion
                    -Wno-sign-conversion
                    -Wno-missing-field-initializers)  # designated initializers leave fields defaulted

# strata_add_layer(<layer> [INTERFACE] SOURCES ... PUBLIC ... PRIVATE ...)
function(strata_add_layer layer)
  cmake_parse_arguments(ARG "INTERFACE" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  set(target strata_${layer})
  if(ARG_INTERFACE)
    add_library(${target} INTERFACE)
    set(scope INTERFACE)
  else()
    add_library(${target} ${ARG_SOURCES})
    set(scope PUBLIC)
    target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_compile_options(${target} PRIVATE ${STRATA_WARNINGS})
    target_link_libraries(${target} PRIVATE ${ARG_PRIVATE})
    set_target_properties(${target} PROPERTIES
      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
      EXPORT_NAME ${layer})
  endif()
  add_library(strata::${layer} ALIAS ${target})
  target_include_directories(${target} ${scope}
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} ${scope} cxx_std_20)
  target_link_libraries(${target} ${scope} ${ARG_PUBLIC})
  if(ARG_INTERFACE)
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer})
  endif()
  install(TARGETS ${target} EXPORT strataTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include/strata)
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/strata
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endfunction()
