/*
 * Text that came from outside (a request header, a Redis reply) made safe
 * for where fado writes it: an error log line no byte can forge or break,
 * and JSON that is valid UTF-8 whatever the input was. libc only, so that
 * it is unit tested without nginx (t/unit/test_frc_text.c).
 */

#ifndef FRC_TEXT_H
#define FRC_TEXT_H

#include <stddef.h>


/* Input bytes a log line quotes at most; more are cut, "..." marks it. */
#define FRC_TEXT_LOG_MAX   64
/* Room for the escaped form of FRC_TEXT_LOG_MAX input bytes. */
#define FRC_TEXT_LOG_SIZE  (4 * FRC_TEXT_LOG_MAX + 4)


/*
 * Writes at most max bytes of src as printable ASCII: a byte outside
 * 0x21..0x7e but the space, and '"' and '\', becomes \xHH; "..." follows a
 * cut. dst must hold 4 * max + 3 bytes. Returns the end of what it wrote.
 */
unsigned char *frc_text_log(unsigned char *dst,
    const unsigned char *src, size_t len, size_t max);

/*
 * Writes src as the inside of a JSON string: '"', '\' and control bytes
 * escaped, valid UTF-8 sequences copied, any other byte written as
 * \ufffd. dst must hold 6 * len bytes. Returns the end of what it wrote.
 */
unsigned char *frc_text_json(unsigned char *dst,
    const unsigned char *src, size_t len);

#endif /* FRC_TEXT_H */
