/* SPDX-License-Identifier: MIT
 * options.c: GUARDSHIM_OPTIONS parser over the X-macro table options.def.
 * Runs once in init, before anything else; never allocates (the table is
 * a static struct and values are copied into fixed buffers).
 * locks: none. STW: no. */
#include "options.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct options opt;

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},   {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

/* Parses a decimal integer in [lo, hi]; false on anything else. */
static bool parse_int(const char *s, size_t len, long lo, long hi, int *out)
{
    if (len == 0 || len > 12)
        return false;
    long v = 0;
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg)
        i++;
    if (i == len)
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (neg)
        v = -v;
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static int signal_from(const char *s, size_t len)
{
    int n;
    if (parse_int(s, len, 0, 64, &n))
        return n;
    if (len == 4 && !strncmp(s, "none", 4))
        return 0;
    if (len > 3 && !strncmp(s, "SIG", 3)) {
        s += 3;
        len -= 3;
    }
    for (size_t i = 0; i < GS_ARRAY_LEN(signal_names); i++)
        if (strlen(signal_names[i].name) == len && !strncmp(s, signal_names[i].name, len))
            return signal_names[i].number;
    if (len >= 6 && !strncmp(s, "RTMIN+", 6) && parse_int(s + 6, len - 6, 0, 30, &n))
        return SIGRTMIN + n <= SIGRTMAX ? SIGRTMIN + n : -1;
    return -1;
}

int opt_signal_number(const char *name) { return signal_from(name, strlen(name)); }

static bool enum_index(const char *values, const char *s, size_t len, int *out)
{
    int i = 0;
    for (const char *p = values;; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, s, len)) {
            *out = i;
            return true;
        }
        if (!bar)
            return false;
        p = bar + 1;
    }
}

static void set_defaults(void)
{
#define OPT_STR(name, def, help) strcpy(opt.name, def);
#define OPT_INT(name, def, lo, hi, help) opt.name = def;
#define OPT_ENUM(name, def, values, help) opt.name = def;
#define OPT_SIGNAL(name, def, help) opt.name = def;
#include "options.def"
#undef OPT_STR
#undef OPT_INT
#undef OPT_ENUM
#undef OPT_SIGNAL
}

/* Applies one key=value. returns: false (after one message) when bad. */
static bool apply(const char *key, size_t klen, const char *val, size_t vlen, bool has_val)
{
    int n;
    (void)n;
#define KEY_IS(name) (klen == sizeof(#name) - 1 && !strncmp(key, #name, klen))
#define BAD(name, what)                                                                        \
    do {                                                                                       \
        log_error("GUARDSHIM_OPTIONS: bad value for '%s' (%s); using the default", #name, what); \
        return false;                                                                          \
    } while (0)
#define OPT_STR(name, def, help)                                                               \
    if (KEY_IS(name)) {                                                                        \
        if (!has_val || vlen >= OPT_STR_MAX)                                                   \
            BAD(name, "expected a string shorter than 512 bytes");                             \
        memcpy(opt.name, val, vlen);                                                           \
        opt.name[vlen] = 0;                                                                    \
        return true;                                                                           \
    }
#define OPT_INT(name, def, lo, hi, help)                                                       \
    if (KEY_IS(name)) {                                                                        \
        if (!has_val || !parse_int(val, vlen, lo, hi, &n))                                     \
            BAD(name, "expected an integer from " #lo " to " #hi);                             \
        opt.name = n;                                                                          \
        return true;                                                                           \
    }
#define OPT_ENUM(name, def, values, help)                                                      \
    if (KEY_IS(name)) {                                                                        \
        if (!has_val || !enum_index(values, val, vlen, &n))                                    \
            BAD(name, "expected one of " values);                                              \
        opt.name = n;                                                                          \
        return true;                                                                           \
    }
#define OPT_SIGNAL(name, def, help)                                                            \
    if (KEY_IS(name)) {                                                                        \
        if (!has_val || (n = signal_from(val, vlen)) < 0)                                      \
            BAD(name, "expected a signal name such as SIGUSR2, or none");                      \
        opt.name = n;                                                                          \
        return true;                                                                           \
    }
#include "options.def"
#undef OPT_STR
#undef OPT_INT
#undef OPT_ENUM
#undef OPT_SIGNAL
#undef KEY_IS
#undef BAD
    log_error("GUARDSHIM_OPTIONS: unknown option '%.*s'; ignored", (int)GS_MIN(klen, 64), key);
    return false;
}

int opt_parse(const char *spec)
{
    set_defaults();
    int bad = 0;
    if (!spec)
        return 0;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ":,");
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            const char *val = eq ? eq + 1 : "";
            size_t vlen = eq ? len - klen - 1 : 0;
            if (!apply(p, klen, val, vlen, eq != NULL))
                bad++;
        }
        p += len;
        if (*p)
            p++;
    }
    if (opt.stop_signal == 0 || opt.stop_signal == SIGKILL || opt.stop_signal == SIGSTOP) {
        log_error("GUARDSHIM_OPTIONS: bad value for 'stop_signal' (cannot be caught); using SIGPWR");
        opt.stop_signal = SIGPWR;
        bad++;
    }
    return bad;
}
