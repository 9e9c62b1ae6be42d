#!/usr/bin/env bats
# guardshim report: reads JSON reports, merges, diffs against a baseline,
# filters, symbolises module+offset frames, and writes text, json, sarif,
# folded and svg; bad input gets one line and a status that tells a usage
# error (2), an unreadable file (3) and a corrupt report (4) apart.
# Reports are made fresh by running the test programs under the shim.
load helper
bats_require_minimum_version 1.5.0

GS_CLI="${GS_CLI:-$GS_ROOT/build/guardshim}"
NPM_DIR="$GS_ROOT/build/npm-sarif"
SARIF_SCHEMA="$NPM_DIR/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"

gsc() {
	timeout -k 5 "$GS_TIMEOUT" "$GS_CLI" "$@"
}

# report_of PROG [ARGS]: runs PROG under the shim, prints its report file.
report_of() {
	local before after
	before="$(gs_reports)"
	gs_run "$@" >/dev/null 2>&1 || true
	after="$(gs_reports)"
	comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -n1
}

@test "two runs of the same leak merge into one record with summed bytes and blocks (#5)" {
	a="$(report_of leak_direct)"
	b="$(report_of leak_direct)"
	assert [ "$a" != "$b" ]
	run -0 --separate-stderr gsc report --format json "$a" "$b"
	assert_equal "$(jq -c '[.trigger, .summary.leaked_bytes, .summary.leaked_blocks, .summary.processes]' <<<"$output")" '["merged",96,2,2]'
	assert_equal "$(jq -c '[.leaks[] | [.kind, .bytes, .blocks, .processes]]' <<<"$output")" '[["direct",96,2,2]]'
	run -0 gsc report "$a" "$b"
	assert_line "Direct leak of 96 byte(s) in 2 object(s) allocated from: [2 processes]"
	assert_line "SUMMARY: guardshim: 96 byte(s) leaked in 2 allocation(s)."
}

@test "records of different programs stay apart and are sorted by bytes, largest first (#5)" {
	a="$(report_of leak_direct)"
	b="$(report_of leak_indirect_list)"
	run -0 --separate-stderr gsc report --format json "$a" "$b"
	assert_equal "$(jq -c '[.leaks[] | "\(.kind) \(.bytes) \(.blocks)"]' <<<"$output")" \
		'["indirect 96 4","direct 48 1","direct 32 1"]'
	assert_equal "$(jq -c '.pid, .exe' <<<"$output" | tr '\n' ' ')" "null null "
}

@test "--baseline keeps only records that are new or grew, and marks them (#5)" {
	old="$(report_of leak_direct)"
	n1="$(report_of leak_direct)"
	n2="$(report_of leak_direct)"
	n3="$(report_of leak_indirect_list)"
	run -0 --separate-stderr gsc report --format json --baseline "$old" "$n1" "$n2" "$n3"
	assert_equal "$(jq -c '[.leaks[] | "\(.kind) \(.bytes) \(.baseline) \(.baseline_bytes)"]' <<<"$output")" \
		'["indirect 96 new 0","direct 96 grew 48","direct 32 new 0"]'
	run -0 gsc report --baseline "$old" "$n1" "$n2"
	assert_line "Direct leak of 96 byte(s) in 2 object(s) allocated from: [grew from 48 byte(s)] [2 processes]"
	# Control: nothing new or grown against itself, or against a bigger baseline.
	run -0 gsc report --baseline "$old" "$n1"
	assert_output --regexp "no leaks new or grown since the baseline"
	run -0 --separate-stderr gsc report --format json --baseline "$n1" "$old"
	assert_equal "$(jq '.leaks | length' <<<"$output")" 0
}

@test "--min-bytes, --kind and --suppressions filter the records (#5)" {
	r="$(report_of leak_indirect_list)"
	kinds() { jq -c '[.leaks[] | "\(.kind) \(.bytes)"]' <<<"$output"; }
	run -0 --separate-stderr gsc report -f json "$r"
	assert_equal "$(kinds)" '["indirect 96","direct 32"]'
	run -0 --separate-stderr gsc report -f json --kind indirect "$r"
	assert_equal "$(kinds)" '["indirect 96"]'
	run -0 --separate-stderr gsc report -f json --kind direct,possible "$r"
	assert_equal "$(kinds)" '["direct 32"]'
	run -0 --separate-stderr gsc report -f json --min-bytes 33 "$r"
	assert_equal "$(kinds)" '["indirect 96"]'
	run -0 --separate-stderr gsc report -f json --min-bytes 32 "$r"
	assert_equal "$(kinds)" '["indirect 96","direct 32"]'
	s="$BATS_TEST_TMPDIR/s.supp"
	printf '# comment\n\nleak:alloc_list_node\n' >"$s"
	run -0 --separate-stderr gsc report -f json --suppressions "$s" "$r"
	assert_equal "$(kinds)" '["direct 32"]'
	printf 'leak:^alloc_list_h*d$\n' >"$s"
	run -0 --separate-stderr gsc report -f json --suppressions "$s" "$r"
	assert_equal "$(kinds)" '["indirect 96"]'
	# Anchors hold: "^list_head" is not a prefix of alloc_list_head.
	printf 'leak:^list_head\n' >"$s"
	run -0 --separate-stderr gsc report -f json --suppressions "$s" "$r"
	assert_equal "$(kinds)" '["indirect 96","direct 32"]'
	# A file name matches too, so both go.
	printf 'leak:programs/leak_indirect_list.c\n' >"$s"
	run -0 --separate-stderr gsc report -f json --suppressions "$s" "$r"
	assert_equal "$(kinds)" '[]'
	run -2 gsc report --kind sideways "$r"
	assert_output --partial "unknown kind 'sideways'"
}

@test "frames with only a module and an offset are symbolised from the module's DWARF (#5)" {
	r="$(report_of leak_direct)"
	jq -c '.leaks[].stack[] |= (.function = null | .file = null | .line = null)' "$r" >"$BATS_TEST_TMPDIR/bare.json"
	want="$(jq -c '[.leaks[0].stack[] | select(.module | test("leak_direct$")) | [.function, .file, .line]]' "$r")"
	run -0 --separate-stderr gsc report -f json "$BATS_TEST_TMPDIR/bare.json"
	assert_equal "$(jq -c '[.leaks[0].stack[] | select(.module | test("leak_direct$")) | [.function, .file, .line]]' <<<"$output")" "$want"
	assert_equal "$(jq -r '.leaks[0].stack[1].function' <<<"$output")" leak_direct_48
	# Controls: --no-symbolize leaves them bare; a module rebuilt since (other build id) is not used.
	run -0 --separate-stderr gsc report -f json --no-symbolize "$BATS_TEST_TMPDIR/bare.json"
	assert_equal "$(jq -r '.leaks[0].stack[1].function' <<<"$output")" null
	jq -c '.leaks[].stack[] |= (.build_id = "00")' "$BATS_TEST_TMPDIR/bare.json" >"$BATS_TEST_TMPDIR/stale.json"
	run -0 --separate-stderr gsc report -f json "$BATS_TEST_TMPDIR/stale.json"
	assert_equal "$(jq -r '.leaks[0].stack[1].function' <<<"$output")" null
	run -0 gsc report "$BATS_TEST_TMPDIR/stale.json"
	assert_line --regexp '^    #1 0x[0-9a-f]+ \(leak_direct\+0x[0-9a-f]+\)$'
}

@test "bare frames in the program, the shim and libc get back the function, file and line the shim gave them (#5)" {
	r="$(report_of leak_direct)"
	jq -c '.leaks[].stack[] |= {pc, module: .module, offset, build_id}' "$r" >"$BATS_TEST_TMPDIR/bare.json"
	names='[.leaks[] | [.stack[] | [(.module | split("/") | last), .function, .file, .line]]] | sort'
	want="$(jq -c "$names" "$r")"
	# The shim's report reaches into every kind of module, named.
	assert_equal "$(jq -r '[.[][] | select(.[1]) | .[0]] | unique | join(" ")' <<<"$want")" \
		"leak_direct libc.so.6 libguardshim.so"
	run -0 --separate-stderr gsc report -f json "$BATS_TEST_TMPDIR/bare.json"
	assert_equal "$(jq -c "$names" <<<"$output")" "$want"
	# Control: without symbolising, no frame has a name.
	run -0 --separate-stderr gsc report -f json --no-symbolize "$BATS_TEST_TMPDIR/bare.json"
	assert_equal "$(jq '[.leaks[].stack[] | select(.function)] | length' <<<"$output")" 0
}

@test "an address that global and local aliases share is named by a global, as libdw names it (#5)" {
	r="$(report_of leak_direct)"
	read -r libc id < <(jq -r '[.leaks[0].stack[] | select(.module | test("/libc\\.so\\.6$"))][0] | "\(.module) \(.build_id)"' "$r")
	dbg="/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
	[ -r "$dbg" ] || skip "no debuginfo for $libc (Debian: libc6-dbg)"
	syms="$(readelf -sW "$dbg")"
	addr="$(awk '$8 == "malloc" && $5 == "GLOBAL" { print $2 }' <<<"$syms")"
	globals="$(awk -v a="$addr" '$2 == a && $4 == "FUNC" && $5 != "LOCAL" { print $8 }' <<<"$syms")"
	# Control: locals start there too (__GI___libc_malloc, __malloc), ahead of the globals in the table.
	run -0 awk -v a="$addr" '$2 == a && $4 == "FUNC" && $5 == "LOCAL" { n++ } END { exit n < 1 }' <<<"$syms"
	off="$(printf '0x%x' "0x$addr")"
	jq -c --arg m "$libc" --arg o "$off" --arg b "$id" \
		'.leaks |= [.[0] | .stack = [{pc: $o, module: $m, offset: $o, build_id: $b}]]' "$r" >"$BATS_TEST_TMPDIR/alias.json"
	run -0 --separate-stderr gsc report -f json "$BATS_TEST_TMPDIR/alias.json"
	name="$(jq -r '.leaks[0].stack[0].function' <<<"$output")"
	grep -qxF "$name" <<<"$globals" || fail "$off named '$name', not one of the globals: $(echo $globals)"
}

@test "a frame whose module is a FIFO, a device or a directory is left bare instead of hanging the reader (#5)" {
	r="$(report_of leak_direct)"
	d="$BATS_TEST_TMPDIR"
	mkfifo "$d/fifo"
	bare() { jq -c --arg m "$1" '.leaks[].stack[] |= {pc, module: (if .module | test("leak_direct$") then $m else .module end), offset}' "$r"; }
	for m in "$d/fifo" /dev/zero "$d"; do
		bare "$m" >"$d/odd.json"
		# A blocking open of the FIFO would wait for a writer forever.
		run -0 --separate-stderr timeout -k 2 10 "$GS_CLI" report -f json "$d/odd.json"
		assert_equal "$(jq -r --arg m "$m" '[.leaks[0].stack[] | select(.module == $m) | .function] | unique | tostring' <<<"$output")" "[null]"
	done
	# Control: the same frames with the real module are symbolised.
	bare "$(jq -r '.exe' "$r")" >"$d/real.json"
	run -0 --separate-stderr timeout -k 2 10 "$GS_CLI" report -f json "$d/real.json"
	assert_equal "$(jq -r '.leaks[0].stack[1].function' <<<"$output")" leak_direct_48
}

# widget: a C++ program whose leak comes from ns::Widget::make()
# (_ZN2ns6Widget4makeEv), built here with g++; `widget free` leaks nothing.
build_widget() {
	command -v g++ >/dev/null || skip "g++ not installed"
	cat >"$BATS_TEST_TMPDIR/widget.cpp" <<'CPP'
#include <cstring>
namespace ns {
struct Widget {
	long a, b, c; /* 24 bytes */
	static Widget *make();
};
__attribute__((noinline)) Widget *Widget::make() { return new Widget(); }
}
static void *volatile sink;
/* Zeroes the dead stack below main: no stale copy of the pointer is a root. */
__attribute__((noinline)) static void clobber_stack() { volatile char buf[65536]; memset((char *)buf, 0, sizeof buf); }
int main(int argc, char **argv)
{
	sink = ns::Widget::make();
	if (argc > 1 && !strcmp(argv[1], "free"))
		delete (ns::Widget *)sink;
	sink = nullptr;
	clobber_stack();
	return 0;
}
CPP
	g++ -O0 -g -fno-inline -o "$BATS_TEST_TMPDIR/widget" "$BATS_TEST_TMPDIR/widget.cpp"
}

@test "C++ names are demangled in the run summary, text, folded, svg and sarif, and json keeps the mangled one beside (#5)" {
	build_widget
	w="$BATS_TEST_TMPDIR/widget" f="$BATS_TEST_TMPDIR/w.json"
	run -23 gsc run --json "$f" -- "$w"
	assert_line --regexp '^    24 byte\(s\) in 1 direct leak\(s\) at ns::Widget::make\(\) .*widget\.cpp:[0-9]+$'
	run -0 gsc report "$f"
	assert_line --regexp '^    #0 0x[0-9a-f]+ in operator new\(unsigned long\) \(libguardshim\.so\+0x[0-9a-f]+\)$'
	assert_line --regexp '^    #1 0x[0-9a-f]+ in ns::Widget::make\(\) .*widget\.cpp:[0-9]+$'
	refute_output --partial _ZN2ns6Widget4makeEv
	run -0 gsc report -f folded "$f"
	assert_output --regexp ';main;ns::Widget::make\(\) 24$'
	gsc report -f svg -o "$BATS_TEST_TMPDIR/w.svg" "$f"
	grep -qF '<title>ns::Widget::make() (24 byte(s), 100.00%)</title>' "$BATS_TEST_TMPDIR/w.svg" ||
		fail "no demangled tooltip in the svg"
	run -0 --separate-stderr gsc report -f sarif "$f"
	assert_equal "$(jq -c '.runs[0].results[0].locations[0].logicalLocations[0] | [.name, .decoratedName]' <<<"$output")" \
		'["ns::Widget::make()","_ZN2ns6Widget4makeEv"]'
	# Frames with only module and offset: symbolised from the ELF, then demangled.
	jq -c '.leaks[].stack[] |= {pc: .pc, module: .module, offset: .offset}' "$f" >"$BATS_TEST_TMPDIR/bare.json"
	run -0 --separate-stderr gsc report -f json "$BATS_TEST_TMPDIR/bare.json"
	assert_equal "$(jq -c --arg w "$w" '[.leaks[0].stack[] | select(.module == $w) | [.function, .mangled]][0]' <<<"$output")" \
		'["ns::Widget::make()","_ZN2ns6Widget4makeEv"]'
	# C names are left alone: no "mangled" beside them ("main" is no type name).
	assert_equal "$(jq -c '[.leaks[0].stack[] | select(.function == "main") | .mangled]' <<<"$output")" '[null]'
}

@test "a suppression matches a C++ frame by its demangled name (LSan syntax) or by its mangled one (#5)" {
	build_widget
	w="$BATS_TEST_TMPDIR/widget" f="$BATS_TEST_TMPDIR/w.json" s="$BATS_TEST_TMPDIR/s.supp"
	run -23 gsc run --json "$f" -- "$w"
	jq -c '.leaks[].stack[] |= {pc: .pc, module: .module, offset: .offset}' "$f" >"$BATS_TEST_TMPDIR/bare.json"
	records() { jq '.leaks | length' <<<"$output"; }
	for input in "$f" "$BATS_TEST_TMPDIR/bare.json"; do
		for pat in 'ns::Widget::make' '^ns::Widget::*()$' '_ZN2ns6Widget4makeEv'; do
			printf 'leak:%s\n' "$pat" >"$s"
			run -0 --separate-stderr gsc report -f json --suppressions "$s" "$input"
			assert_equal "$(records)" 0
		done
		# Control: another class's name suppresses nothing.
		printf 'leak:ns::Gadget::make\n' >"$s"
		run -0 --separate-stderr gsc report -f json --suppressions "$s" "$input"
		assert_equal "$(records)" 1
	done
	# The json output read again still matches the mangled name.
	gsc report -f json -o "$BATS_TEST_TMPDIR/merged.json" "$BATS_TEST_TMPDIR/bare.json"
	printf 'leak:_ZN2ns6Widget4makeEv\n' >"$s"
	run -0 --separate-stderr gsc report -f json --suppressions "$s" "$BATS_TEST_TMPDIR/merged.json"
	assert_equal "$(records)" 0
}

@test "text format has LeakSanitizer's shape (#5)" {
	r="$(report_of leak_direct)"
	run -0 gsc report "$r"
	norm="$(normalize_text <<<"$output")"
	for want in "=================================================================" \
		"==PID==ERROR: guardshim: detected memory leaks" \
		"Direct leak of 48 byte(s) in 1 object(s) allocated from:" \
		"    #0 0xADDR in malloc (libguardshim.so+0xADDR)" \
		"    #1 0xADDR in leak_direct_48 tests/programs/leak_direct.c:LINE" \
		"    #2 0xADDR in work tests/programs/leak_direct.c:LINE" \
		"SUMMARY: guardshim: 48 byte(s) leaked in 1 allocation(s)."; do
		grep -qxF -- "$want" <<<"$norm" || fail "missing line: $want"$'\n'"$norm"
	done
	# A clean report says so in one line.
	c="$(report_of leak_direct free)"
	run -0 gsc report "$c"
	assert_output --regexp '^==[0-9]+==guardshim: no leaks detected in 1 process\(es\)$'
}

@test "json format keeps the shim's schema, with trigger merged and a summary, and reads back (#5)" {
	r="$(report_of leak_indirect_list)"
	run -0 --separate-stderr gsc report -f json "$r"
	json="$output"
	assert_equal "$(jq -r '[.tool, .version, .pid == ('"$(jq .pid "$r")"'), .exe, .trigger] | join(" ")' <<<"$json")" \
		"guardshim $(jq -r .version "$r") true $(jq -r .exe "$r") merged"
	assert_equal "$(jq -c '.summary | [.leaked_bytes, .leaked_blocks, .direct_bytes, .indirect_bytes, .possible_bytes]' <<<"$json")" '[128,5,32,96,0]'
	assert_equal "$(jq '[.leaks[].stack[] | select(.module == null or .offset == null)] | length' <<<"$json")" 0
	# Same frames as the shim wrote.
	assert_equal "$(jq -c '[.leaks[].stack]' <<<"$json")" "$(jq -c '[.leaks[].stack]' "$r")"
	printf '%s\n' "$json" >"$BATS_TEST_TMPDIR/merged.json"
	run -0 --separate-stderr gsc report -f json "$BATS_TEST_TMPDIR/merged.json"
	assert_equal "$(jq -c '.leaks' <<<"$output")" "$(jq -c '.leaks' <<<"$json")"
}

@test "stdin '-' and JSON Lines input are read (#5)" {
	a="$(report_of leak_direct)"
	b="$(report_of leak_indirect_list)"
	run -0 --separate-stderr bash -c "cat '$a' '$b' | '$GS_CLI' report -f json -"
	assert_equal "$(jq '.summary.processes, .summary.leaked_bytes' <<<"$output" | tr '\n' ' ')" "2 176 "
	jq . "$a" >"$BATS_TEST_TMPDIR/pretty.json"
	run -0 --separate-stderr gsc report -f json "$BATS_TEST_TMPDIR/pretty.json"
	assert_equal "$(jq '.summary.leaked_bytes' <<<"$output")" 48
}

@test "sarif output has SARIF 2.1.0's required structure, one result per record (#5)" {
	a="$(report_of leak_indirect_list)"
	run -0 --separate-stderr gsc report -f sarif "$a"
	s="$output"
	assert_equal "$(jq -r '.version' <<<"$s")" "2.1.0"
	assert_equal "$(jq -r '."$schema"' <<<"$s")" "https://json.schemastore.org/sarif-2.1.0.json"
	assert_equal "$(jq -r '.runs[0].tool.driver.name' <<<"$s")" guardshim
	assert_equal "$(jq -c '[.runs[0].tool.driver.rules[].id]' <<<"$s")" \
		'["guardshim/direct-leak","guardshim/indirect-leak","guardshim/possible-leak"]'
	assert_equal "$(jq -c '[.runs[0].results[] | .ruleId]' <<<"$s")" '["guardshim/indirect-leak","guardshim/direct-leak"]'
	assert_equal "$(jq '[.runs[0].results[] | select((.message.text | length) == 0 or (.locations | length) != 1)] | length' <<<"$s")" 0
	# The location is the program's allocating call, not the shim's malloc.
	assert_equal "$(jq -r '.runs[0].results[1].locations[0].physicalLocation | "\(.artifactLocation.uri) \(.region.startLine > 0)"' <<<"$s")" \
		"tests/programs/leak_indirect_list.c true"
	assert_equal "$(jq -r '.runs[0].results[1].locations[0].logicalLocations[0].name' <<<"$s")" alloc_list_head
	assert_equal "$(jq '.runs[0].results[1].stacks[0].frames | length' <<<"$s")" "$(jq '.leaks[1].stack | length' "$a")"
	# No records: a valid log with no results.
	c="$(report_of leak_direct free)"
	run -0 --separate-stderr gsc report -f sarif "$c"
	assert_equal "$(jq -c '.runs[0].results' <<<"$output")" '[]'
}

@test "sarif output validates against the SARIF 2.1.0 JSON schema (#5)" {
	command -v npm >/dev/null && command -v node >/dev/null || skip "node/npm not installed"
	if [ ! -f "$SARIF_SCHEMA" ] || [ ! -d "$NPM_DIR/node_modules/ajv-draft-04" ]; then
		mkdir -p "$NPM_DIR"
		(cd "$NPM_DIR" && timeout 300 npm install --no-audit --no-fund --silent \
			ajv@8 ajv-draft-04@1 ajv-formats@2 @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null 2>&1) ||
			skip "npm could not install the validator (offline?)"
	fi
	v="$GS_FIXTURES/tools_report/validate_sarif.js"
	a="$(report_of leak_indirect_list)"
	b="$(report_of fork_child_leak)"
	gsc report -f sarif -o "$BATS_TEST_TMPDIR/r.sarif" "$a" $(gs_reports)
	run -0 env NODE_PATH="$NPM_DIR/node_modules" node "$v" "$SARIF_SCHEMA" "$BATS_TEST_TMPDIR/r.sarif"
	assert_output valid
	gsc report -f sarif --baseline "$b" -o "$BATS_TEST_TMPDIR/d.sarif" "$a"
	run -0 env NODE_PATH="$NPM_DIR/node_modules" node "$v" "$SARIF_SCHEMA" "$BATS_TEST_TMPDIR/d.sarif"
	# C++ frames add decoratedName (the mangled name) to their logical location.
	build_widget
	gsc run -q --json "$BATS_TEST_TMPDIR/w.json" -- "$BATS_TEST_TMPDIR/widget" || true
	gsc report -f sarif -o "$BATS_TEST_TMPDIR/w.sarif" "$BATS_TEST_TMPDIR/w.json"
	grep -q '"decoratedName"' "$BATS_TEST_TMPDIR/w.sarif" || fail "no decoratedName in the C++ log"
	run -0 env NODE_PATH="$NPM_DIR/node_modules" node "$v" "$SARIF_SCHEMA" "$BATS_TEST_TMPDIR/w.sarif"
	# Control: the validator rejects a log without a driver.
	jq 'del(.runs[0].tool.driver)' "$BATS_TEST_TMPDIR/r.sarif" >"$BATS_TEST_TMPDIR/bad.sarif"
	run -1 env NODE_PATH="$NPM_DIR/node_modules" node "$v" "$SARIF_SCHEMA" "$BATS_TEST_TMPDIR/bad.sarif"
	assert_output --partial driver
}

@test "make deps installs nodejs and npm from Debian only when node or npm is not on PATH, and man-db with the rest (#5)" {
	# A PATH of stubs: dpkg says installed except for $STUB_MISSING, apt-get logs its arguments.
	bin="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$bin"
	ln -s "$(command -v id)" "$bin/id"
	cat >"$bin/dpkg" <<'SH'
#!/bin/sh
for p in $STUB_MISSING; do [ "$2" = "$p" ] && exit 1; done
exit 0
SH
	printf '#!/bin/sh\necho "$*" >>"%s"\n' "$BATS_TEST_TMPDIR/apt.log" >"$bin/apt-get"
	printf '#!/bin/sh\nexit 0\n' >"$bin/sudo"
	chmod +x "$bin"/*
	deps() { rm -f "$BATS_TEST_TMPDIR/apt.log"; PATH="$bin" STUB_MISSING="$1" "$(command -v make)" -s -C "$GS_ROOT" deps; }
	run -0 deps ""
	assert_equal "$(grep install "$BATS_TEST_TMPDIR/apt.log")" "install -y -qq nodejs npm"
	run -0 deps "man-db"
	assert_equal "$(grep install "$BATS_TEST_TMPDIR/apt.log")" "install -y -qq man-db nodejs npm"
	# Control: with node and npm on PATH nothing is installed at all.
	printf '#!/bin/sh\nexit 0\n' >"$bin/node"
	cp "$bin/node" "$bin/npm"
	chmod +x "$bin/node" "$bin/npm"
	run -0 deps ""
	assert [ ! -e "$BATS_TEST_TMPDIR/apt.log" ]
	run -0 deps "man-db"
	assert_equal "$(grep install "$BATS_TEST_TMPDIR/apt.log")" "install -y -qq man-db"
}

@test "folded output is one 'root;...;leaf bytes' line per stack, root first, without the shim (#5)" {
	a="$(report_of leak_direct)"
	b="$(report_of leak_direct)"
	c="$(report_of leak_indirect_list)"
	run -0 gsc report -f folded "$a" "$b" "$c"
	assert_equal "${#lines[@]}" 3
	assert_line --regexp '^_start;(.*;)?main;work;leak_direct_48 96$'
	assert_line --regexp '^_start;(.*;)?main;build;alloc_list_node 96$'
	assert_line --regexp '^_start;(.*;)?main;build;alloc_list_head 32$'
	refute_output --partial malloc
}

@test "svg output is well-formed XML with a tooltip per frame (#5)" {
	command -v xmllint >/dev/null || skip "xmllint not installed (libxml2-utils)"
	a="$(report_of leak_indirect_list)"
	b="$(report_of fork_child_leak)"
	run -0 gsc report -f svg --title 'leaks <&> "here"' -o "$BATS_TEST_TMPDIR/f.svg" $(gs_reports)
	run -0 xmllint --noout "$BATS_TEST_TMPDIR/f.svg"
	svg="$(cat "$BATS_TEST_TMPDIR/f.svg")"
	assert_equal "$(xmllint --xpath 'count(//*[local-name()="rect"])' "$BATS_TEST_TMPDIR/f.svg")" \
		"$(( $(xmllint --xpath 'count(//*[local-name()="g"])' "$BATS_TEST_TMPDIR/f.svg") + 1 ))"
	grep -qF '<title>alloc_list_node (96 byte(s), 50.00%)</title>' <<<"$svg" || fail "no tooltip for alloc_list_node"
	grep -qF '<title>all (192 byte(s), 100.00%)</title>' <<<"$svg" || fail "no root frame"
	grep -qF 'leaks &lt;&amp;&gt; &quot;here&quot;' <<<"$svg" || fail "title not escaped"
	refute [ -n "$(grep -E '<script|javascript:' <<<"$svg")" ]
	# Clean input still draws a valid (empty) graph.
	c="$(report_of leak_direct free)"
	run -0 gsc report -f svg -o "$BATS_TEST_TMPDIR/e.svg" "$c"
	run -0 xmllint --noout "$BATS_TEST_TMPDIR/e.svg"
}

@test "the svg flame graph renders in headless Chromium (#5)" {
	chrome="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
	[ -n "$chrome" ] || skip "chromium not installed"
	a="$(report_of leak_indirect_list)"
	b="$(report_of fork_child_leak)"
	gsc report -f svg -o "$BATS_TEST_TMPDIR/f.svg" $(gs_reports)
	h="$(sed -n 's/.*<svg [^>]*height="\([0-9]*\)".*/\1/p' "$BATS_TEST_TMPDIR/f.svg")"
	art="$GS_ROOT/build/test-artifacts"
	mkdir -p "$art"
	shot="$art/tools_report-flamegraph.png"
	rm -f "$shot"
	run timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$BATS_TEST_TMPDIR/chrome" --window-size="1200,$h" \
		--screenshot="$shot" "file://$BATS_TEST_TMPDIR/f.svg"
	[ -s "$shot" ] || fail "no screenshot: $output"
	assert_equal "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a
	# A blank page compresses to a few hundred bytes; frames and text do not.
	assert [ "$(stat -c %s "$shot")" -gt 4000 ]
	echo "# flame graph screenshot: $shot" >&3
}

@test "corrupt inputs get one line naming the file and the problem, and exit 4 (#5)" {
	r="$(report_of leak_direct)"
	d="$BATS_TEST_TMPDIR"
	head -c 200 "$r" >"$d/truncated.json"
	printf 'hello world\n' >"$d/notjson.txt"
	: >"$d/empty.json"
	printf '{"tool":"guardshim"}\n' >"$d/noleaks.json"
	{ cat "$r"; printf '{"leaks":[{"kind":"direct"\n'; } >"$d/second.json"
	head -c 100 /bin/true >"$d/binary.bin"

	run -4 gsc report "$d/truncated.json"
	assert_output --regexp "^guardshim: $d/truncated\\.json: .+ \\(line 1\\)\$"
	run -4 gsc report "$d/notjson.txt"
	assert_output "guardshim: $d/notjson.txt: '[' or '{' expected near 'hello' (line 1)"
	run -4 gsc report "$d/empty.json"
	assert_output "guardshim: $d/empty.json: empty file, no report in it (line 1)"
	run -4 gsc report "$d/noleaks.json"
	assert_output "guardshim: $d/noleaks.json: not a guardshim report (no \"leaks\" array) (line 1)"
	run -4 gsc report "$d/second.json"
	assert_output --regexp "^guardshim: $d/second\\.json: .+ \\(line 3\\)\$"
	run -4 gsc report "$d/binary.bin"
	assert_equal "${#lines[@]}" 1
	run -4 gsc report --baseline "$d/empty.json" "$r"
	assert_equal "${#lines[@]}" 1
}

@test "negative or non-integer bytes and blocks are rejected naming the file and the field, exit 4 (#5)" {
	r="$(report_of leak_direct)"
	d="$BATS_TEST_TMPDIR"
	bad() { jq -c "$1" "$r" >"$d/bad.json"; }
	bad '.leaks[0].bytes = -5'
	run -4 gsc report "$d/bad.json"
	assert_output "guardshim: $d/bad.json: a leak record's \"bytes\" is not a non-negative integer (line 1)"
	bad '.leaks[0].bytes = 4.5'
	run -4 gsc report "$d/bad.json"
	assert_output "guardshim: $d/bad.json: a leak record's \"bytes\" is not a non-negative integer (line 1)"
	bad '.leaks[0].blocks = -1'
	run -4 gsc report -f json "$d/bad.json"
	assert_output "guardshim: $d/bad.json: a leak record's \"blocks\" is not a non-negative integer (line 1)"
	bad '.leaks[0].blocks = "1"'
	run -4 gsc report "$d/bad.json"
	assert_output --partial "\"blocks\" is not a non-negative integer"
	bad 'del(.leaks[0].blocks)'
	run -4 gsc report "$d/bad.json"
	assert_output "guardshim: $d/bad.json: a leak record lacks \"blocks\" (line 1)"
	bad '.summary.reachable_bytes = -1'
	run -4 gsc report "$d/bad.json"
	assert_output "guardshim: $d/bad.json: the summary's \"reachable_bytes\" is not a non-negative integer (line 1)"
	# Control: zero is a count like any other.
	bad '.leaks[0].bytes = 0 | .leaks[0].blocks = 0'
	run -0 gsc report "$d/bad.json"
	assert_line "Direct leak of 0 byte(s) in 0 object(s) allocated from:"
}

@test "a missing or unreadable file exits 3, apart from usage errors (2) and corrupt reports (4) (#5)" {
	r="$(report_of leak_direct)"
	d="$BATS_TEST_TMPDIR"
	run -3 gsc report "$d/missing.json"
	assert_output "guardshim: $d/missing.json: No such file or directory"
	run -3 gsc report "$r" "$d/missing.json"
	assert_equal "${#lines[@]}" 1
	run -3 gsc report "$d"
	assert_output "guardshim: $d: Is a directory"
	run -3 gsc report --baseline "$d/missing.json" "$r"
	assert_output "guardshim: $d/missing.json: No such file or directory"
	run -3 gsc report --suppressions "$d/missing.supp" "$r"
	assert_output "guardshim: $d/missing.supp: No such file or directory"
	run -3 gsc report -o "$d/no/such/dir/out" "$r"
	assert_output "guardshim: $d/no/such/dir/out: No such file or directory"
	# The first problem decides: a corrupt file before a missing one is 4.
	printf 'x\n' >"$d/corrupt.json"
	run -4 gsc report "$d/corrupt.json" "$d/missing.json"
	run -3 gsc report "$d/missing.json" "$d/corrupt.json"
	# Control: the same files, all there and sound, exit 0.
	run -0 gsc report "$r"
	# The statuses are documented where people look.
	run -0 gsc report --help
	assert_line --regexp '^  3  a file cannot be read'
	assert_line --regexp '^  4  input that is not a guardshim report'
	if command -v man >/dev/null; then
		run -0 env MANWIDTH=200 man -l "$GS_ROOT/man/guardshim.1"
		assert_output --regexp '3 +A file cannot be read'
		assert_output --regexp '4 +Input that is not a guardshim report'
	fi
}

@test "a bad flag or format prints one usage line and exits 2 (#5)" {
	r="$(report_of leak_direct)"
	run -2 gsc report --frobnicate "$r"
	assert_output --regexp "^guardshim report: unknown option '--frobnicate'; usage: guardshim report "
	assert_equal "${#lines[@]}" 1
	run -2 gsc report --format pdf "$r"
	assert_output --partial "unknown format 'pdf'"
	run -2 gsc report
	assert_output --partial "no report file given"
	run -2 gsc report --min-bytes lots "$r"
	assert_equal "${#lines[@]}" 1
	run -2 gsc report --exitcode 256 "$r"
	assert_equal "${#lines[@]}" 1
}

@test "--exitcode N makes report fail when records remain, for CI gates (#5)" {
	old="$(report_of leak_direct)"
	new="$(report_of leak_indirect_list)"
	run -1 gsc report --exitcode 1 --baseline "$old" "$new"
	run -0 gsc report --exitcode 1 --baseline "$new" "$new"
	run -0 gsc report --exitcode 1 --kind possible "$new"
}

@test "periodic reports: a grown record replaces its earlier total, the exit report supersedes, unknown kinds are skipped (#5)" {
	r="$(report_of leak_direct)"
	d="$BATS_TEST_TMPDIR"
	{
		jq -c '.trigger = "interval" | .leaks += [{"kind":"growing","bytes":4096,"blocks":1,"stack":.leaks[0].stack}]' "$r"
		jq -c '.trigger = "interval" | .leaks[0].bytes = 96 | .leaks[0].blocks = 2 | .leaks[0].grown = true' "$r"
	} >"$d/live.json"
	run -0 --separate-stderr gsc report -f json "$d/live.json"
	assert_equal "$(jq -c '[.leaks[] | "\(.kind) \(.bytes) \(.blocks)"]' <<<"$output")" '["direct 96 2"]'
	# Control: without "grown" the two periodic records are separate leaks and add up.
	{
		jq -c '.trigger = "interval"' "$r"
		jq -c '.trigger = "interval"' "$r"
	} >"$d/twice.json"
	run -0 --separate-stderr gsc report -f json "$d/twice.json"
	assert_equal "$(jq -c '[.leaks[] | "\(.kind) \(.bytes) \(.blocks)"]' <<<"$output")" '["direct 96 2"]'
	# The exit report is the process's final word.
	{ cat "$d/twice.json"; jq -c . "$r"; } >"$d/final.json"
	run -0 --separate-stderr gsc report -f json "$d/final.json"
	assert_equal "$(jq -c '[.leaks[] | "\(.kind) \(.bytes) \(.blocks)"]' <<<"$output")" '["direct 48 1"]'
}
