/* SPDX-License-Identifier: MIT
 * live.h: leak checks in a running process. With `scan_interval=S` a
 * background thread ("guardshim") runs a check every S seconds; with
 * `report_signal=SIG` the signal asks that thread for one now. Each check
 * reports only leak groups that are new or grew (leakhist.h), to log_path,
 * trigger "interval" or "signal". */
#ifndef GS_LIVE_H
#define GS_LIVE_H

/* Starts the thread and installs the signal handler when the options ask
 * for them. Call from the constructor, not from inside malloc. */
void live_start(void);

/* In a fork child: the thread did not survive the fork and is not
 * restarted (see live.c); the child keeps its exit check. */
void live_atfork_child(void);

#endif
