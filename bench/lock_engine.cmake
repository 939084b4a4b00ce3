# bench/lock_engine: events per second through the lock-safety engine
# (DLM adapter, causal delivery, verdict rule) on synthetic DLM hand-offs.
if(TARGET netrv_lock)
	add_executable(lock_engine_bench ${CMAKE_CURRENT_LIST_DIR}/lock_engine.c)
	target_include_directories(lock_engine_bench PRIVATE
		${CMAKE_SOURCE_DIR}/tests)
	target_link_libraries(lock_engine_bench PRIVATE netrv_lock)
endif()
