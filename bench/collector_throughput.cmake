# bench/collector_throughput.sh drives netrv-collector with netrv-loadgen
# (bench/loadgen.cmake); nothing to build beyond those two.
add_custom_target(collector_throughput
	COMMAND ${CMAKE_CURRENT_LIST_DIR}/collector_throughput.sh
		${CMAKE_BINARY_DIR}
	DEPENDS netrv-collector netrv-loadgen
	WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
	USES_TERMINAL
	COMMENT "collector throughput benchmark")
