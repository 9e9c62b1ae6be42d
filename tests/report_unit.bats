#!/usr/bin/env bats
# Unit suite of the report path (preload/report.c, symbolize.c, json.c,
# suppress.c, outbuf.c): tests/unit/test_report.c with a fake depot and
# module table, built into build/unit/ by tests/unit/run-report-test.
# Self-contained: no helper, no shim build needed.

setup_file() {
    cd "$BATS_TEST_DIRNAME/.."
    # Build once; each test then runs one group of the driver.
    tests/unit/run-report-test no-such-test >/dev/null
}

run_group() {
    cd "$BATS_TEST_DIRNAME/.."
    run build/unit/test_report "$1" "$PWD/build/unit/libdso.so"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 failed"* ]]
    [[ "$output" != *FAIL* ]]
}

@test "JSON report follows DESIGN §4: grouping by kind/stack/owner, order, totals, symbols, escaping" {
    run_group json
}

@test "JSON report is written when clean and appends one line per report; %p and %% expand" {
    run_group json_clean_append
}

@test "text report has LeakSanitizer's shape, tags [cycle] and [owner N], stays silent when clean" {
    run_group text
}

@test "suppressions remove exactly the matching records (TemplateMatch rules); controls match nothing" {
    run_group suppressions
}

@test "a missing suppressions file gives one error line and the report goes on" {
    run_group bad_suppressions
}

@test "log_path refuses a symlink, a FIFO and another user's file" {
    run_group destination
}

@test "odd input (NULL result, bad trigger, NaN, closed stderr) never crashes" {
    run_group odd_input
}

@test "JSON emitter escapes control characters and invalid UTF-8" {
    run_group emitter
}

@test "5,000 distinct stacks and 100k blocks are reported quickly" {
    run_group speed
}
