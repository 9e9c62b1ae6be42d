/* SPDX-License-Identifier: MIT
 * leakhist.h: what recoverable reports have already shown. A leak group
 * keeps its identity across scans as (kind, stack, owner); a later report
 * shows it again only when it grew. Serialised by the caller (check.c). */
#ifndef GS_LEAKHIST_H
#define GS_LEAKHIST_H

#include "depot.h"

enum leak_news { NEWS_SAME = 0, NEWS_NEW, NEWS_GROWN };

/* Compares a group with what was reported before and records its current
 * totals when it is new or grew. returns: how the group is news. */
enum leak_news leakhist_note(uint8_t kind, stack_id stack, uint32_t owner, uint64_t bytes,
                             uint64_t blocks);

#endif
