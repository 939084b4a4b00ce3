# bench_http: cost of the HTTP side on the collector's hot paths (the node
# statistics consumer per merged event, http_publish per subscriber).
if(TARGET netrv_http_testfeed)
	add_executable(bench_http ${CMAKE_CURRENT_LIST_DIR}/bench_http.c)
	target_include_directories(bench_http PRIVATE ${CMAKE_SOURCE_DIR}/tests)
	target_link_libraries(bench_http PRIVATE netrv_http_testfeed)
endif()
