# guardshim: one top-level GNU Makefile. `make` builds the shim and the tool;
# `make demo` and `make check` also install the Debian packages they need.
VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= gcc
CXX ?= g++
-include config.mak

B := build
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wmissing-declarations -Wformat=2 -Wundef -Wpointer-arith -Wwrite-strings \
        -Wvla -Wimplicit-fallthrough
GS_CFLAGS := -std=gnu11 -O2 -g $(WARN) -DGS_VERSION_STRING='"$(VERSION)"' -Iinclude
SHIM_CFLAGS := $(GS_CFLAGS) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
        -fno-omit-frame-pointer -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc \
        -fno-builtin-free -pthread -DGS_BUILDING_SHIM -MMD -MP
SHIM_LIBS := -lunwind -ldw -lelf -ldl -pthread

SHIM_SRC := $(wildcard preload/*.c)
SHIM_OBJ := $(SHIM_SRC:%.c=$(B)/%.o)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_OBJ := $(TOOL_SRC:%.c=$(B)/%.o)

# Test programs: tests/programs/*.c|*.cpp -> build/tests/NAME; lib*.c -> build/tests/lib*.so.
# -O0 and no builtins so the compiler can neither delete a leak nor reshape a stack.
TPROG_CFLAGS := -O0 -g -fno-builtin -fno-inline -fno-optimize-sibling-calls -pthread -Iinclude
TPROG_C := $(filter-out tests/programs/lib%.c,$(wildcard tests/programs/*.c))
TPROG_CXX := $(wildcard tests/programs/*.cpp)
TPROG_LIB := $(wildcard tests/programs/lib*.c)
TPROGS := $(TPROG_C:tests/programs/%.c=$(B)/tests/%) $(TPROG_CXX:tests/programs/%.cpp=$(B)/tests/%) \
          $(TPROG_LIB:tests/programs/%.c=$(B)/tests/%.so)
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))

DEBS := libunwind-dev uthash-dev libdw-dev libelf-dev libjansson-dev bats bats-support \
        bats-assert jq gcc g++ make pkg-config libxml2-utils chromium clang libclang-rt-14-dev \
        sqlite3 git python3 man-db libpython3.11-testsuite libc6-dbg libgc-dev

.PHONY: all deps demo check test test-bats test-unit check-exports bench clean install uninstall
all: $(B)/libguardshim.so $(if $(TOOL_SRC),$(B)/guardshim) $(EXAMPLES)

$(B)/libguardshim.so: $(SHIM_OBJ) preload/exports.map
	$(CC) -shared -o $@ $(SHIM_OBJ) -Wl,--version-script=preload/exports.map -Wl,-z,defs \
	    -Wl,-z,nodelete $(SHIM_LIBS)

$(B)/preload/%.o: preload/%.c
	@mkdir -p $(@D)
	$(CC) $(SHIM_CFLAGS) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(B)/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(GS_CFLAGS) -MMD -MP $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(B)/guardshim: $(TOOL_OBJ)
	$(CC) -o $@ $^ -ljansson -ldw -lelf -lstdc++ $(LDFLAGS)

$(B)/examples/%: examples/%.c include/guardshim.h
	@mkdir -p $(@D)
	$(CC) -O0 -g -fno-builtin -Iinclude -pthread -o $@ $< -ldl

$(B)/tests/lib%.so: tests/programs/lib%.c
	@mkdir -p $(@D)
	$(CC) $(TPROG_CFLAGS) -shared -fPIC -o $@ $<

$(B)/tests/%: tests/programs/%.c include/guardshim.h tests/programs/gs_test.h
	@mkdir -p $(@D)
	$(CC) $(TPROG_CFLAGS) -o $@ $< -ldl -Wl,-rpath,'$$ORIGIN'

$(B)/tests/%: tests/programs/%.cpp tests/programs/gs_test.h
	@mkdir -p $(@D)
	$(CXX) $(TPROG_CFLAGS) -o $@ $< -ldl

test-programs: $(TPROGS)

# Installs what is missing; idempotent and quiet when everything is there.
# node and npm (the SARIF schema check) come from Debian only when not on
# PATH: a node from elsewhere (nodesource) brings its own npm and conflicts
# with Debian's npm package.
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	{ command -v node && command -v npm; } >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: deps
	@$(MAKE) --no-print-directory all
	@echo "== running build/examples/leaky_list under the shim =="
	-LD_PRELOAD=$(CURDIR)/$(B)/libguardshim.so $(B)/examples/leaky_list

check: deps
	@$(MAKE) --no-print-directory all test-programs
	@$(MAKE) --no-print-directory test

TESTS ?= tests
test: all test-programs
	@tests/run-all $(TESTS)

check-exports: $(B)/libguardshim.so
	@tests/check-exports $(B)/libguardshim.so

bench: all
	bench/run

# DESTDIR stages; PREFIX is where it will live (and what guardshim.pc says).
install: all
	install -Dm755 $(B)/libguardshim.so $(DESTDIR)$(PREFIX)/lib/libguardshim.so
	install -Dm644 include/guardshim.h $(DESTDIR)$(PREFIX)/include/guardshim.h
	[ ! -f $(B)/guardshim ] || install -Dm755 $(B)/guardshim $(DESTDIR)$(PREFIX)/bin/guardshim
	install -Dm644 man/guardshim.1 $(DESTDIR)$(PREFIX)/share/man/man1/guardshim.1
	@mkdir -p $(DESTDIR)$(PREFIX)/lib/pkgconfig
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' 'libdir=$${prefix}/lib' \
	    'shim=$${libdir}/libguardshim.so' '' 'Name: guardshim' \
	    'Description: guardshim leak detector API (weak symbols: nothing to link; run with guardshim run or LD_PRELOAD=$${shim})' \
	    'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs:' \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/guardshim.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libguardshim.so $(DESTDIR)$(PREFIX)/include/guardshim.h \
	      $(DESTDIR)$(PREFIX)/bin/guardshim $(DESTDIR)$(PREFIX)/share/man/man1/guardshim.1 \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/guardshim.pc

clean:
	rm -rf $(B)

-include $(SHIM_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)

# ---- check-sanitize (#7): the shim's own code under ASan+UBSan, the tool under Valgrind ----
# Drivers link the shim's objects directly (no LD_PRELOAD: ASan and an
# interposing shim fight): tests/unit/test_core.c with the allocation-free
# core, tests/unit/test_report.c with the report path. tests/check-sanitize
# runs them and build/guardshim under Valgrind, one line per check.
DEBS += valgrind
SAN_B := $(B)/sanitize
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
SAN_SHIM_CFLAGS := $(filter-out -O2,$(SHIM_CFLAGS)) $(SAN_FLAGS)
SAN_TEST_CFLAGS := $(filter-out -O2,$(GS_CFLAGS)) $(SAN_FLAGS) -Ipreload -pthread -MMD -MP
SAN_CORE := handle mark classify glibc sys lock log options depot modules arena
SAN_REPORT := report symbolize json suppress outbuf log sys lock leakhist arena
SAN_TABLES := sites owners leakhist misuse exesym gate handle options log sys lock arena
SAN_GUARDIAN := guardian handle mark classify glibc options log sys lock arena
SAN_CORE_OBJ := $(SAN_CORE:%=$(SAN_B)/preload/%.o)
SAN_REPORT_OBJ := $(SAN_REPORT:%=$(SAN_B)/preload/%.o)
SAN_TABLES_OBJ := $(SAN_TABLES:%=$(SAN_B)/preload/%.o)
SAN_GUARDIAN_OBJ := $(SAN_GUARDIAN:%=$(SAN_B)/preload/%.o)

.PHONY: check-sanitize sanitize-build
check-sanitize: sanitize-build $(B)/libguardshim.so $(B)/guardshim $(B)/tests/leak_indirect_list \
        $(B)/tests/leak_cycle
	@tests/check-sanitize

sanitize-build: $(SAN_B)/test_core $(SAN_B)/test_report $(SAN_B)/test_tables \
        $(SAN_B)/test_guardian $(SAN_B)/libdso.so

$(SAN_B)/preload/%.o: preload/%.c
	@mkdir -p $(@D)
	$(CC) $(SAN_SHIM_CFLAGS) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(SAN_B)/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(SAN_TEST_CFLAGS) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

# test_report.c takes &malloc as "the shim's frame #0 in libc"; under ASan
# that names the interceptor, so point it at glibc's own entry (the file
# never calls malloc itself).
$(SAN_B)/unit/test_report.o: tests/unit/test_report.c
	@mkdir -p $(@D)
	$(CC) $(SAN_TEST_CFLAGS) -Dmalloc=__libc_malloc $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(SAN_B)/test_core: $(SAN_B)/unit/test_core.o $(SAN_CORE_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^ -ldl -pthread $(LDFLAGS)

# stub_modules_find.o: a weak modules_find for report.c's misuse path.
$(SAN_B)/test_report: $(SAN_B)/unit/test_report.o $(SAN_B)/unit/stub_modules_find.o $(SAN_REPORT_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^ -ldw -lelf -ldl -pthread $(LDFLAGS)

# test_tables.c stubs misuse.c's report (check.c) and stack capture (unwind.c).
$(SAN_B)/test_tables: $(SAN_B)/unit/test_tables.o $(SAN_TABLES_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^ -lelf -ldl -pthread $(LDFLAGS)

$(SAN_B)/test_guardian: $(SAN_B)/unit/test_guardian.o $(SAN_GUARDIAN_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^ -ldl -pthread $(LDFLAGS)

# The library test_report dlopens, records a PC in and dlcloses.
$(SAN_B)/libdso.so:
	@mkdir -p $(@D)
	printf '#include <stdlib.h>\nvoid *dso_leaky_site(void);\nvoid *dso_leaky_site(void) { return malloc(20); }\n' >$(SAN_B)/dso.c
	$(CC) -O0 -g -shared -fPIC -o $@ $(SAN_B)/dso.c

-include $(wildcard $(SAN_B)/preload/*.d $(SAN_B)/unit/*.d)
