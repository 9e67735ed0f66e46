/*
 * The storage library's shared helpers (lib/storage/fst_buf.c, fst_hex.c):
 * the growable buffer every writer uses and the one hex encoder/decoder.
 */

#include "tap.h"

#include "fst_buf.h"
#include "fst_hex.h"

int
main(void)
{
    fst_buf_t      b;
    char           out[64], *s;
    unsigned char  bytes[8];
    size_t         i;

    plan(17);

    fst_buf_init(&b);
    fst_buf_puts(&b, "<a>");
    fst_buf_printf(&b, "%d-%s", 42, "x");
    fst_buf_xml_escape(&b, "<&>\"'");
    is_str(b.data, "<a>42-x&lt;&amp;&gt;&quot;&apos;", "puts, printf and XML escape append in order");
    is_int((int) b.len, (int) strlen(b.data), "len counts the bytes, NUL not included");
    s = fst_buf_steal(&b);
    ok(s != NULL && b.data == NULL && b.len == 0, "steal hands the data over and resets the buffer");
    free(s);

    for (i = 0; i < 10000; i++) {
        fst_buf_append(&b, "0123456789", 10);
    }
    ok(fst_buf_ok(&b) && b.len == 100000 && b.data[b.len] == '\0',
       "100000 bytes appended in pieces, still NUL-terminated");
    fst_buf_free(&b);

    s = fst_buf_steal(&b);
    is_str(s, "", "an empty buffer steals as an empty string, not NULL");
    free(s);

    fst_buf_append(&b, "abc", 3);
    fst_buf_append(&b, "x", (size_t) -1 - 1);
    ok(!fst_buf_ok(&b), "an append that cannot fit latches the failure");
    fst_buf_puts(&b, "more");
    is_int((int) b.len, 3, "appends after a failure change nothing");
    ok(fst_buf_steal(&b) == NULL && b.data == NULL, "steal of a failed buffer is NULL and frees it");

    is_str(fst_hex_encode("\x00\x01\xab\xff", 4, out), "0001abff", "lowercase hex");
    is_str(fst_hex_encode_upper("\x00\x01\xab\xff", 4, out), "0001ABFF", "capital hex");
    is_str(fst_hex_encode("", 0, out), "", "no bytes, empty string");
    is_int((int) fst_hex_decode("0001aBfF", bytes, sizeof(bytes)), 4, "decode: either case");
    ok(memcmp(bytes, "\x00\x01\xab\xff", 4) == 0, "decode: the bytes encoded");
    is_int((int) fst_hex_decode("abc", bytes, sizeof(bytes)), -1, "decode: odd count refused");
    is_int((int) fst_hex_decode("0g", bytes, sizeof(bytes)), -1, "decode: non-digit refused");
    is_int((int) fst_hex_decode("000102030405060708", bytes, sizeof(bytes)), -1,
           "decode: more than out holds refused");
    is_int((int) fst_hex_decode("", bytes, sizeof(bytes)), 0, "decode: empty is zero bytes");
    return done_testing();
}
