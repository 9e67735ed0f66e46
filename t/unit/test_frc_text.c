/*
 * Unit test of the escaping of text from outside: log lines no byte can
 * forge, JSON strings that are valid UTF-8 whatever the input.
 */

#include <stdio.h>
#include <string.h>

#include "frc_text.h"
#include "tap.h"


static const char *
log_of(const char *s, size_t len, size_t max)
{
    static unsigned char  out[4 * 128 + 4];
    unsigned char        *e;

    e = frc_text_log(out, (const unsigned char *) s, len, max);
    *e = '\0';
    return (const char *) out;
}


static const char *
json_of(const char *s, size_t len)
{
    static unsigned char  out[6 * 64 + 1];
    unsigned char        *e;

    e = frc_text_json(out, (const unsigned char *) s, len);
    *e = '\0';
    return (const char *) out;
}


static void
check_log(const char *in, size_t len, size_t max, const char *want)
{
    const char  *got = log_of(in, len, max);

    if (!ok(strcmp(got, want) == 0, "log: %s", want)) {
        diag("got \"%s\"", got);
    }
}


static void
check_json(const char *in, size_t len, const char *want)
{
    const char  *got = json_of(in, len);

    if (!ok(strcmp(got, want) == 0, "json: %s", want)) {
        diag("got \"%s\"", got);
    }
}


int
main(void)
{
    /* log lines: printable ASCII passes, the rest cannot forge a line */
    check_log("photos", 6, 64, "photos");
    check_log("a b", 3, 64, "a b");
    check_log("x\n2026/12/01 [alert] forged", 27, 64,
              "x\\x0a2026/12/01 [alert] forged");
    check_log("a\"b\\c", 5, 64, "a\\x22b\\x5cc");
    check_log("\x1b[31mred", 8, 64, "\\x1b[31mred");
    check_log("caf\xc3\xa9", 5, 64, "caf\\xc3\\xa9");
    check_log("\0", 1, 64, "\\x00");
    check_log("abcdefgh", 8, 4, "abcd...");
    check_log("", 0, 64, "");

    /* JSON: quotes, backslashes and controls escaped */
    check_json("plain", 5, "plain");
    check_json("a\"b\\c", 5, "a\\\"b\\\\c");
    check_json("line\nfeed\x7f", 10, "line\\u000afeed\\u007f");

    /* valid UTF-8 copied */
    check_json("caf\xc3\xa9", 5, "caf\xc3\xa9");
    check_json("\xe2\x82\xac", 3, "\xe2\x82\xac");
    check_json("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");

    /* invalid UTF-8 replaced, byte by byte */
    check_json("\xff", 1, "\\ufffd");
    check_json("\xc0\xaf", 2, "\\ufffd\\ufffd");           /* overlong */
    check_json("\xe0\x80\xaf", 3, "\\ufffd\\ufffd\\ufffd");  /* overlong */
    check_json("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd");  /* surrogate */
    check_json("\xf4\x90\x80\x80", 4,
               "\\ufffd\\ufffd\\ufffd\\ufffd");              /* > U+10FFFF */
    check_json("\xc3", 1, "\\ufffd");                        /* cut short */
    check_json("a\xc3" "b", 3, "a\\ufffdb");
    check_json("\x80x", 2, "\\ufffdx");                      /* lone cont. */

    return done_testing();
}
