# netrv-loadgen: N agents over mutual TLS, for the collector benchmark and
# the collector's integration tests.
add_executable(netrv-loadgen ${CMAKE_CURRENT_LIST_DIR}/loadgen.c)
target_include_directories(netrv-loadgen PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(netrv-loadgen PRIVATE netrv PkgConfig::LIBEVENT
	PkgConfig::OPENSSL)
