/*
 * tap.h: a header-only TAP producer for fado's C unit tests.
 *
 *   int main(void) {
 *       plan(2);                       // or no plan, and done_testing() prints it
 *       ok(x == 1, "x is one");
 *       is_str(name, "eu-1", "cluster name %d", i);
 *       return done_testing();         // 0 only if every test passed
 *   }
 *
 * Output follows TAP version 12 so prove (and scripts/run-tests) can count
 * it. Each test binary is one file, so the state is static.
 */

#ifndef FADO_TAP_H
#define FADO_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_planned = -1;
static int tap_run;
static int tap_failed;

static void tap_vdescribe(const char *fmt, va_list ap)
{
    if (fmt != NULL && fmt[0] != '\0') {
        fputs(" - ", stdout);
        vprintf(fmt, ap);
    }
    fputc('\n', stdout);
}

/* Declare how many tests will run; a mismatch fails the file in prove. */
static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

/* A comment line on stderr, shown by prove next to the failure. */
static inline void diag(const char *fmt, ...)
{
    va_list ap;

    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static inline int tap_vok(int passed, const char *fmt, va_list ap)
{
    tap_run++;
    if (!passed) {
        tap_failed++;
        fputs("not ", stdout);
    }
    printf("ok %d", tap_run);
    tap_vdescribe(fmt, ap);
    fflush(stdout);
    return passed;
}

static inline int tap_ok(int passed, const char *fmt, ...)
{
    va_list ap;
    int     r;

    va_start(ap, fmt);
    r = tap_vok(passed, fmt, ap);
    va_end(ap);
    return r;
}

static inline int tap_is_int(long long got, long long want, const char *fmt, ...)
{
    va_list ap;
    int     r;

    va_start(ap, fmt);
    r = tap_vok(got == want, fmt, ap);
    va_end(ap);
    if (!r) {
        diag("     got: %lld", got);
        diag("expected: %lld", want);
    }
    return r;
}

static inline int tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
    va_list ap;
    int     r, same;

    same = (got == NULL && want == NULL)
           || (got != NULL && want != NULL && strcmp(got, want) == 0);
    va_start(ap, fmt);
    r = tap_vok(same, fmt, ap);
    va_end(ap);
    if (!r) {
        diag("     got: %s%s%s", got ? "'" : "", got ? got : "NULL", got ? "'" : "");
        diag("expected: %s%s%s", want ? "'" : "", want ? want : "NULL", want ? "'" : "");
    }
    return r;
}

#define ok(cond, ...)              tap_ok(!!(cond), __VA_ARGS__)
#define is_int(got, want, ...)     tap_is_int((long long) (got), (long long) (want), __VA_ARGS__)
#define is_str(got, want, ...)     tap_is_str((got), (want), __VA_ARGS__)

/*
 * Print the plan if none was given, and return the exit status: non-zero
 * when a test failed or the count differs from the plan.
 */
static inline int done_testing(void)
{
    if (tap_planned < 0) {
        printf("1..%d\n", tap_run);
    } else if (tap_planned != tap_run) {
        diag("planned %d tests but ran %d", tap_planned, tap_run);
        return 255;
    }
    fflush(stdout);
    if (tap_failed) {
        diag("failed %d of %d tests", tap_failed, tap_run);
        return tap_failed > 254 ? 254 : tap_failed;
    }
    return 0;
}

#endif /* FADO_TAP_H */
