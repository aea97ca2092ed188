# hymba_set_warnings(target): the project's warning flags, per target.
function(hymba_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -Wno-sign-compare>)
endfunction()

# hymba_set_kernel_flags(target): optimisation flags for hot CPU kernels.
function(hymba_set_kernel_flags target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O3 -fno-math-errno>)
  if(HYMBA_NATIVE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  endif()
endfunction()
