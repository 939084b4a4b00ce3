# bench_archive: events/s the archive writes per core, bytes per event.
add_executable(bench_archive ${CMAKE_CURRENT_LIST_DIR}/archive.c)
target_include_directories(bench_archive PRIVATE
	${CMAKE_SOURCE_DIR}/tests/archive)
target_link_libraries(bench_archive PRIVATE netrv_archive)
