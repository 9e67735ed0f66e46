/*
 * fado storage: hexadecimal, the one encoder and decoder of the library and
 * of its users (digests in SigV4 and checksums, percent-encoding, random
 * tokens, test vectors).
 */

#ifndef FST_HEX_H
#define FST_HEX_H

#include <stddef.h>
#include <sys/types.h>

/* Two lowercase digits per byte into out[2n + 1], NUL-terminated; out. */
char *fst_hex_encode(const void *data, size_t n, char *out);

/* The same in capitals, as percent-encoding (RFC 3986) wants them. */
char *fst_hex_encode_upper(const void *data, size_t n, char *out);

/*
 * Decode the whole of s (digits of either case, an even count) into
 * out[size]: the number of bytes, or -1 if s is not hex or does not fit.
 */
ssize_t fst_hex_decode(const char *s, unsigned char *out, size_t size);

#endif /* FST_HEX_H */
