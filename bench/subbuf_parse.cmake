# subbuf_parse: ns/record of the agent's sub-buffer parser against kbuffer.
add_executable(subbuf_parse ${CMAKE_CURRENT_LIST_DIR}/subbuf_parse.c)
target_link_libraries(subbuf_parse PRIVATE netrv_agent PkgConfig::ZLIB)
target_compile_definitions(subbuf_parse PRIVATE
	SUBBUF_DATA="${CMAKE_SOURCE_DIR}/tests/agent/data")
