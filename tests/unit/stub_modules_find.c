/* SPDX-License-Identifier: MIT
 * stub_modules_find.c: a weak modules_find for drivers that fake the module
 * table (test_report.c) but link report.c, whose heap-misuse path asks
 * modules_find for the module of a free's caller. The report tests never
 * take that path; a driver that defines modules_find itself wins over this. */
#include "modules.h"

__attribute__((weak)) uint16_t modules_find(uintptr_t pc)
{
    (void)pc;
    return MODULE_NONE;
}
