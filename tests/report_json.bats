#!/usr/bin/env bats
# The JSON report (DESIGN §4) and the exit status contract, plus programs whose
# report is hard to get right: 100k blocks, atexit frees, closed fds, a clean
# program that uses a lot of libc.
load helper
bats_require_minimum_version 1.5.0

@test "the JSON report has the tool, version, pid, exe and trigger of the checked process (#2)" {
	run -23 gs_run leak_direct leak
	pid="$(gs_pid_from_output pid)"
	f="$(gs_report "$pid")"
	assert_equal "$(wc -l <"$f")" 1
	assert_equal "$(gs_jq .tool "$f")" guardshim
	assert_equal "$(gs_jq .pid "$f")" "$pid"
	assert_equal "$(gs_jq .trigger "$f")" exit
	run gs_jq .version "$f"
	assert_output --regexp '^[0-9]+\.[0-9]+\.[0-9]+'
	run gs_jq .exe "$f"
	assert_output "$GS_PROGS/leak_direct"
}

@test "the JSON summary adds up the records: direct, indirect, leaked bytes and blocks (#2)" {
	run -23 gs_run leak_indirect_list lost
	run gs_jq '.summary | "\(.leaked_bytes) \(.leaked_blocks) \(.direct_bytes) \(.indirect_bytes) \(.possible_bytes)"'
	assert_output "128 5 32 96 0"
	run gs_jq '.summary | [.reachable_bytes, .reachable_blocks, .scan_ms] | map(type) | join(" ")'
	assert_output "number number number"
}

@test "every JSON frame has a hex pc, a module and an offset, and the caller has file and line (#2)" {
	run -23 gs_run leak_direct leak
	run gs_jq '[.leaks[].stack[] | (.pc | test("^0x[0-9a-f]+$")) and (.module | type == "string") and (.offset | test("^0x[0-9a-f]+$"))] | all'
	assert_output true
	run gs_jq '.leaks[0].stack[1] | "\(.function) \(.file | split("/") | last) \(.line | type)"'
	assert_output "leak_direct_48 leak_direct.c number"
	run gs_jq '.leaks[0].stack[1].module'
	assert_output "$GS_PROGS/leak_direct"
}

@test "the frame below main is libc's __libc_start_call_main, with file and line from libc's debuginfo (#2)" {
	run -23 gs_run leak_direct leak
	read -r libc id < <(gs_jq '[.leaks[0].stack[] | select(.module | test("/libc\\.so\\.6$"))][0] | "\(.module) \(.build_id)"')
	dbg="/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
	[ -r "$dbg" ] || skip "no debuginfo for $libc (Debian: libc6-dbg)"
	run gs_jq '.leaks[0].stack | (map(.function) | index("main")) as $i | .[$i + 1]
		| "\(.function) \(.file | split("/") | last) \(.line | type) \(.module | split("/") | last)"'
	assert_output "__libc_start_call_main libc_start_call_main.h number libc.so.6"
	# Control: a local symbol of the debuginfo's table, absent from libc.so.6's
	# own dynamic symbols, so it was found in the table walked second.
	run -0 grep -Ec ' LOCAL .* __libc_start_call_main$' <(readelf -sW "$dbg")
	run -1 grep -w __libc_start_call_main <(readelf -W --dyn-syms "$libc")
}

@test "the report file is created with mode 0600 (#2)" {
	run -23 gs_run leak_direct leak
	assert_equal "$(stat -c %a "$(gs_report)")" 600
}

@test "a clean program still writes a JSON report with an empty leaks array (#2)" {
	run -0 gs_run leak_direct free
	run gs_jq '.leaks | tojson'
	assert_output "[]"
	run gs_jq '.summary | "\(.leaked_bytes) \(.leaked_blocks)"'
	assert_output "0 0"
}

@test "a program without leaks keeps its own exit status (#2)" {
	run -5 gs_run leak_direct free 5
	assert_clean_report
}

@test "leaks at exit replace the program's own exit status with 23 (#2)" {
	run -23 gs_run leak_direct leak 5
	assert_leaks "direct leak_direct_48 48 1"
}

@test "a clean program using stdio, locale, getpwnam, localtime, dlopen, threads, qsort and fopen has zero records (#2)" {
	run -0 gs_run clean_exit
	assert_line "done"
	assert_clean_report
}

@test "the clean program prints the same with and without the shim (#2)" {
	run -0 gs_native clean_exit
	native="$output"
	run -0 gs_run clean_exit
	assert_equal "$output" "$native"
}

@test "100,000 leaked blocks from one call site make exactly one record with blocks=100000 (#2)" {
	run -23 gs_run stress_many_blocks leak
	assert_leaks "direct leak_one_16 1600000 100000"
	run gs_jq '.summary | "\(.leaked_bytes) \(.leaked_blocks)"'
	assert_output "1600000 100000"
}

@test "the 100,000 blocks freed leave no leaks (#2)" {
	run -0 gs_run stress_many_blocks free
	assert_clean_report
}

@test "a block the program's atexit handler frees is not reported (#2)" {
	run -0 gs_run atexit_free free
	assert_line "atexit handler ran"
	assert_clean_report
}

@test "the same block, hidden from the scanner and not freed by the handler, is a direct leak (#2)" {
	run -23 gs_run atexit_free nofree
	assert_line "atexit handler ran"
	assert_leaks "direct hidden_block_144 144 1"
}

@test "a program that closed fds 0, 1 and 2 still gets its report written to log_path (#2)" {
	run -23 gs_run report_closed_fds leak
	pid="$(gs_pid_from_output pid)"
	assert_leaks "direct leak_after_close_48 48 1" "$(gs_report "$pid")"
}

@test "a clean program that closed fds 0, 1 and 2 gets a report with no leaks (#2)" {
	run -0 gs_run report_closed_fds free
	pid="$(gs_pid_from_output pid)"
	assert_clean_report "$(gs_report "$pid")"
}

@test "a demangled C++ frame keeps its raw symbol in \"mangled\" after \"function\"; C frames have none (#2)" {
	run -23 gs_run leak_cpp_demangle leak
	run gs_jq '.leaks[] | select(.bytes == 41) | .stack[1] | keys_unsorted | join(",")'
	assert_output "pc,module,offset,function,mangled,file,line,build_id"
	run gs_jq '.leaks[] | select(.bytes == 41) | .stack[] | select(.function == "main") | has("mangled")'
	assert_output false
}

@test "a report that demangles C++ frames on the program's own thread leaves its pending dlerror() alone (#2)" {
	run -0 gs_native leak_cpp_demangle dlerror
	assert_line "dlerror kept 1"
	run -23 gs_run leak_cpp_demangle dlerror
	assert_line "records 2"
	assert_line "dlerror kept 1"
	run jq -r '.leaks[] | "\(.kind) \(.stack[1].function) \(.bytes) \(.blocks)"' <<<"$(gs_api_reports)"
	assert_equal "$(LC_ALL=C sort <<<"$output")" "$(printf '%s\n' \
		"direct ns::Registry<int>::add(int) 24 1" \
		"direct ns::Widget::make_buffer() 41 1")"
}

@test "a C program without libstdc++ keeps a C++ symbol name as it is, with no \"mangled\" field (#2)" {
	run -23 gs_run leak_c_mangled_name plain
	assert_line "global __cxa_demangle no"
	assert_leaks "direct _ZN6plugin4makeEv 48 1"
	run gs_jq '.leaks[0].stack[1] | has("mangled")'
	assert_output false
}

@test "once a C program has libstdc++ loaded RTLD_LOCAL, the same frame is demangled (#2)" {
	run -23 gs_run leak_c_mangled_name stdcxx-local
	assert_line "global __cxa_demangle no"
	assert_leaks "direct plugin::make() 48 1"
	run gs_jq '.leaks[0].stack[1].mangled'
	assert_output "_ZN6plugin4makeEv"
}

@test "the C program that frees its block has no leaks (#2)" {
	run -0 gs_run leak_c_mangled_name free
	assert_clean_report
}

