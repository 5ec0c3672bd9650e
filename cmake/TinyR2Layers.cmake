# One static library per layer of the system (docs/architecture.md):
#
#   core → kernels → autograd → io, data, nn, optim → infer, train → bench → cli
#
# tinyr2_layer(NAME [DEPS lower-layers...] [LIBS libraries...]) builds src/NAME/**.cpp into
# tinyr2_NAME, linked PUBLIC to the libraries of its lower layers and to LIBS. A layer compiles against an include root of its own,
# build/layers/NAME/, holding links to src/NAME and to the folders of the layers below it
# only — so `#include "infer/..."` in src/nn fails to compile: a back-edge does not build.
set(TINYR2_LAYER_ROOT "${CMAKE_BINARY_DIR}/layers")

function(tinyr2_layer name)
  cmake_parse_arguments(L "" "" "DEPS;LIBS" ${ARGN})
  # Every layer this one may see: itself and, transitively, the layers below it.
  set(visible ${name})
  foreach(dep IN LISTS L_DEPS)
    get_property(dep_visible GLOBAL PROPERTY TINYR2_LAYER_VISIBLE_${dep})
    if(NOT dep_visible)
      message(FATAL_ERROR "layer ${name}: ${dep} must be declared before it")
    endif()
    list(APPEND visible ${dep_visible})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set_property(GLOBAL PROPERTY TINYR2_LAYER_VISIBLE_${name} ${visible})

  set(root "${TINYR2_LAYER_ROOT}/${name}")
  file(MAKE_DIRECTORY "${root}")
  foreach(layer IN LISTS visible)
    if(NOT EXISTS "${root}/${layer}")
      file(CREATE_LINK "${PROJECT_SOURCE_DIR}/src/${layer}" "${root}/${layer}" SYMBOLIC)
    endif()
  endforeach()

  file(GLOB_RECURSE sources CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/src/${name}/*.cpp")
  add_library(tinyr2_${name} STATIC ${sources})
  target_include_directories(tinyr2_${name} PUBLIC "$<BUILD_INTERFACE:${root}>")
  list(TRANSFORM L_DEPS PREPEND tinyr2_ OUTPUT_VARIABLE dep_targets)
  target_link_libraries(tinyr2_${name} PUBLIC ${dep_targets} ${L_LIBS})
endfunction()
