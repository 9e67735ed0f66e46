/*
 * madmin body encryption against vectors made with Go (madmin-go v3.0.109,
 * sio-go v0.3.1, built with -tags fips so that EncryptData takes the
 * PBKDF2 + AES-256-GCM path): the deterministic ones sealed with salt
 * 00..1f and nonce a0..a7 were checked to decrypt with madmin.DecryptData;
 * the last one is EncryptData's own output with a random salt and nonce.
 * Plaintexts are 'a'+i%26 for i < len, except the 21-byte JSON.
 */

#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "madmin_crypt.h"
#include "s3_sign.h"

#define PW  "minio-secret-key-example"

static const char  *json21 = "{\"sourcebucket\":\"b1\"}";

static const char  *vec21_hex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f02a0a1"
    "a2a3a4a5a6a7eb18c8494cf15405e8311ffe539aa334f210c85f540624218dd9fd6cf7"
    "bb9af10efc11608a";

static const char  *madmin_hex =
    "cb75d5e26a6b10e432111113ea84ebf1e6d80941b60f5a16494030327731f25202f8b7"
    "fd8a717e1258abaacadc26bf6c6a376ca7d56c8d6f920c3ed247057b9706b3a13371bf"
    "8022dc7d40a9b0f7";

static const struct {
    size_t       len;
    size_t       ct_len;
    const char  *sha256;
} vectors[] = {
    { 0, 57, "9b7680ca67531f0f47408fe98428b1736530bcb8653e4321b565e085359a5b42" },
    { 16384, 16441, "cb029aa5555fcdce400d8913e8bf2023a12f4168e2312db2087934630cf44675" },
    { 16385, 16458, "442451ec5b9b306fc87a2c177ed22e74c65e96364e74f991f23b6f20dcebbb56" },
};

static unsigned char  salt[32], nonce[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7 };

static size_t
unhex(const char *h, unsigned char *out)
{
    size_t  n = strlen(h) / 2, i;

    for (i = 0; i < n; i++) {
        unsigned int  v;

        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char) v;
    }
    return n;
}

static void
tohex(const unsigned char *d, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", d[i]);
    }
    out[2 * n] = '\0';
}

int
main(void)
{
    unsigned char  *ct, *pt, buf[256], *data;
    size_t          ct_len, pt_len, n, i, j;
    char            hex[512], sum[65], err[256];

    plan(21);
    for (i = 0; i < 32; i++) {
        salt[i] = (unsigned char) i;
    }

    is_int(fado_madmin_encrypt_with(PW, json21, strlen(json21), salt, nonce,
                                    &ct, &ct_len, err, sizeof(err)), 0,
           "encrypting a JSON body works");
    tohex(ct, ct_len, hex);
    is_str(hex, vec21_hex, "the ciphertext is byte for byte madmin-go's");
    free(ct);

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        data = malloc(vectors[i].len + 1);
        for (j = 0; j < vectors[i].len; j++) {
            data[j] = (unsigned char) ('a' + j % 26);
        }
        ct = NULL;
        is_int(fado_madmin_encrypt_with(PW, data, vectors[i].len, salt, nonce,
                                        &ct, &ct_len, err, sizeof(err)), 0,
               "encrypting %zu bytes works", vectors[i].len);
        is_int((long) ct_len, (long) vectors[i].ct_len,
               "%zu bytes: ciphertext length as madmin-go's (fragments of 16 KiB)",
               vectors[i].len);
        fado_s3_sha256_hex(ct, ct_len, sum);
        is_str(sum, vectors[i].sha256, "%zu bytes: ciphertext equals madmin-go's",
               vectors[i].len);
        if (vectors[i].len == 16385) {
            ok(fado_madmin_decrypt(PW, ct, ct_len, &pt, &pt_len, err,
                                   sizeof(err)) == 0 && pt_len == 16385
               && memcmp(pt, data, pt_len) == 0,
               "a two-fragment stream decrypts to the plaintext");
            free(pt);
            ct[ct_len - 20] ^= 1;
            is_int(fado_madmin_decrypt(PW, ct, ct_len, &pt, &pt_len, err,
                                       sizeof(err)), -1,
                   "a flipped bit in the final fragment is detected");
            ok(strstr(err, "not authentic") != NULL, "and reported: %s", err);
            is_int(fado_madmin_decrypt(PW, ct, 16384 + 41 + 16, &pt, &pt_len,
                                       err, sizeof(err)), -1,
                   "a stream cut after a non-final fragment is refused");
        }
        free(ct);
        free(data);
    }

    n = unhex(madmin_hex, buf);
    is_int(fado_madmin_decrypt(PW, buf, n, &pt, &pt_len, err, sizeof(err)), 0,
           "madmin-go EncryptData output decrypts");
    is_str((char *) pt, "{\"arn\":\"from-madmin\"}", "to madmin's plaintext");
    free(pt);
    is_int(fado_madmin_decrypt("wrong", buf, n, &pt, &pt_len, err,
                               sizeof(err)), -1,
           "the wrong password is refused");
    buf[32] = 0x00;
    is_int(fado_madmin_decrypt(PW, buf, n, &pt, &pt_len, err, sizeof(err)), -1,
           "an Argon2id ciphertext is refused");
    ok(strstr(err, "algorithm id") != NULL, "with a clear reason: %s", err);

    ok(fado_madmin_encrypt(PW, json21, strlen(json21), &ct, &ct_len, err,
                           sizeof(err)) == 0
       && fado_madmin_decrypt(PW, ct, ct_len, &pt, &pt_len, err,
                              sizeof(err)) == 0
       && strcmp((char *) pt, json21) == 0,
       "random salt and nonce: round trip");
    free(ct);
    free(pt);
    return done_testing();
}
