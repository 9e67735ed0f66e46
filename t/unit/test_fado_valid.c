/*
 * The input rules (controller/fado_valid.c), log value escaping
 * (fado_log_quote) and the replication-configuration parser on hostile
 * documents, including inputs the fuzzers found (fuzz/corpus/).
 */

#include "fado_log.h"
#include "fado_valid.h"
#include "fst_replcfg.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

int
main(void)
{
    char     buf[64], key[1100];
    int64_t  v = 0;

    plan(44);

    ok(fado_valid_utf8("caf\xc3\xa9", 5), "UTF-8 is UTF-8");
    ok(!fado_valid_utf8("\xff", 1), "0xff is not UTF-8");
    ok(!fado_valid_utf8("\xc0\xaf", 2), "an overlong '/' is not UTF-8");
    ok(!fado_valid_utf8("\xed\xa0\x80", 3), "a surrogate is not UTF-8");
    ok(!fado_valid_utf8("\xe2\x82", 2), "a truncated sequence is not UTF-8");

    ok(fado_valid_name("eu-1.a_b"), "a zone name");
    ok(!fado_valid_name(""), "an empty name is refused");
    ok(!fado_valid_name("\xff"), "a name that is not ASCII is refused");
    ok(fado_valid_bucket("my-bucket.1"), "a bucket name");
    ok(!fado_valid_bucket("My-Bucket"), "upper case is not S3");
    ok(!fado_valid_bucket("a..b"), "'..' in a bucket name is refused");

    ok(fado_valid_cursor(""), "an empty cursor");
    ok(!fado_valid_cursor("a\x01"), "a cursor with a control character is refused");

    ok(fado_valid_key("2026/cat.jpg") == NULL, "a key with segments");
    ok(fado_valid_key("caf\xc3\xa9/..x/.y") == NULL, "dots inside segments are fine");
    ok(fado_valid_key("") != NULL, "an empty key is refused");
    ok(fado_valid_key("..") != NULL, "'..' is refused");
    ok(fado_valid_key("a/../b") != NULL, "a '..' segment is refused");
    ok(fado_valid_key("./a") != NULL, "a '.' segment is refused");
    ok(fado_valid_key("a//b") != NULL, "an empty segment is refused");
    ok(fado_valid_key("/a") != NULL && fado_valid_key("a/") != NULL,
       "leading and trailing '/' are refused");
    ok(fado_valid_key("bad\xffkey") != NULL, "a key that is not UTF-8 is refused");
    ok(fado_valid_key("tab\tkey") != NULL, "a control character is refused");
    memset(key, 'k', 1024);
    key[1024] = '\0';
    ok(fado_valid_key(key) == NULL, "1024 bytes are fine");
    key[1024] = 'k';
    key[1025] = '\0';
    ok(fado_valid_key(key) != NULL, "1025 bytes are refused");

    ok(fado_valid_int64("9223372036854775807", 1, INT64_MAX, &v) && v == INT64_MAX,
       "the largest token id");
    ok(!fado_valid_int64("99999999999999999999", 1, INT64_MAX, &v), "20 digits are refused");
    ok(!fado_valid_int64("9223372036854775808", 1, INT64_MAX, &v), "INT64_MAX + 1 is refused");
    ok(!fado_valid_int64("12abc", 0, 100, &v) && !fado_valid_int64("", 0, 100, &v),
       "trailing garbage and empty strings are refused");
    ok(!fado_valid_int64("0", 1, 100, &v), "out of range is refused");

    ok(fado_valid_rfc3339("2026-05-01T10:00:00.123Z"), "MinIO's event time");
    ok(fado_valid_rfc3339("2024-02-29T23:59:60+02:00"), "a leap day and second, an offset");
    ok(!fado_valid_rfc3339("2026-99-99T10:00:00.000Z"), "month 99 is refused");
    ok(!fado_valid_rfc3339("2025-02-29T10:00:00Z"), "29 February of a common year is refused");
    ok(!fado_valid_rfc3339("2026-05-01T10:00:00"), "a time without zone is refused");

    is_str(fado_log_quote(buf, sizeof(buf), "a\nlevel=error x=\"y\"\\", (size_t) -1),
           "\"a\\x0alevel=error x=\\\"y\\\"\\\\\"", "newline, quotes and backslash escaped");
    is_str(fado_log_quote(buf, sizeof(buf), "caf\xc3\xa9\xff", (size_t) -1),
           "\"caf\xc3\xa9\\xff\"", "UTF-8 kept, other bytes as \\xHH");
    fado_log_quote(buf, 16, "0123456789abcdefghij", (size_t) -1);
    ok(strlen(buf) < 16 && strstr(buf, "...\"") != NULL, "cut to fit, and says so: %s", buf);
    is_str(fado_log_quote(buf, sizeof(buf), NULL, (size_t) -1), "\"\"", "NULL is \"\"");

    {
        /* Found by fuzzing the old hand-written scanner: a prefixed Rule
         * made it compute a negative length. */
        const char  *doc = "<ReplicationConfiguration><x:Rule><ID>a</ID></x:Rule>"
                           "</ReplicationConfiguration>";
        fst_replcfg_rule_t  rule = { "fado-eu-1", "arn:minio:replication::1:b", 1 };
        char                *out = NULL, err[256];
        int                  changed = 0;

        ok(fst_replcfg_merge(doc, &rule, &out, &changed, err, sizeof(err)) == 0,
           "a prefixed Rule parses");
        ok(out != NULL && strstr(out, "<x:Rule><ID>a</ID></x:Rule>") != NULL,
           "and is kept byte for byte");
        free(out);
        out = NULL;
        ok(fst_replcfg_merge("<!DOCTYPE x [<!ENTITY a \"aaaa\">]>"
                                      "<ReplicationConfiguration/>", &rule, &out, &changed,
                                      err, sizeof(err)) != 0, "a DOCTYPE is refused: %s", err);
        ok(fst_replcfg_merge("<ReplicationConfiguration><Rule>",
                                      &rule, &out, &changed, err, sizeof(err)) != 0,
           "an unterminated document is refused: %s", err);
        ok(fst_replcfg_has("<ReplicationConfiguration><Rule><Status>Enabled</Status>"
                                    "<Destination><Bucket>arn:x</Bucket></Destination></Rule>"
                                    "</ReplicationConfiguration>", "arn:x"),
           "an enabled rule towards an ARN is found");
    }
    return done_testing();
}
