# bench/agent_overhead: netrv-agent vs trace-cmd record on the same events
# (needs root).  Run: cmake --build build --target bench_agent_overhead
# or: sudo bench/agent_overhead.py --build build [--rate N] [--seconds S]
if(TARGET netrv-agent)
	add_custom_target(bench_agent_overhead
		COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/agent_overhead.py
			--build ${CMAKE_BINARY_DIR}
		DEPENDS netrv-agent netrv-test-receiver netrv-test-uprobe-target
		USES_TERMINAL)
endif()
