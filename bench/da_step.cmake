# da_step: cost of a DA table step and of a per-object step with its hash
# lookup (ns/event and, under valgrind's callgrind, instructions/event).
add_executable(da_step ${CMAKE_CURRENT_LIST_DIR}/da_step.c)
target_link_libraries(da_step PRIVATE netrv_models_consumer)
target_compile_definitions(da_step PRIVATE
	MODELS_DIR="${CMAKE_SOURCE_DIR}/models")
