/*
 * madmin body encryption against vectors made with Go (madmin-go v3.0.109,
 * sio-go v0.3.1, built with -tags fips so that EncryptData takes the
 * PBKDF2 + AES-256-GCM path): the deterministic ones sealed with salt
 * 00..1f and nonce a0..a7 were checked to decrypt with madmin.DecryptData;
 * the last one is EncryptData's own output with a random salt and nonce.
 * Plaintexts are 'a'+i%26 for i < len, except the 21-byte JSON.
 * Under them, the sio stream format against sio-go's own published vectors.
 */

#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "fst_hex.h"
#include "fst_madmin_crypt.h"
#include "fst_s3_sign.h"

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

/*
 * The AES-128-GCM entries of secure-io/sio-go's published test_vectors.json
 * (commit 2e9ca5aa): buffer size, key, nonce, associated data, plaintext,
 * ciphertext, in hex. They pin the stream format under madmin's bodies.
 */
static const struct {
    size_t       buf_size;
    const char  *key, *nonce, *ad, *pt, *ct;
} sio_vectors[] = {
    { 16, "00000000000000000000000000000000", "0000000000000000", "",
      "",
      "e0247a864e783cecb1f7996c13cd3f64" },
    { 16, "10000000000000000000000000000000", "0000000000000000", "",
      "",
      "0ea5336db7013554c07aa43b369e5655" },
    { 16, "10000000000000000000000000000000", "1000000000000000", "",
      "",
      "a52763497d2e64ee49bf4c72dc6881e7" },
    { 16, "10000000000000000000000000000000", "1000000000000000", "00",
      "",
      "2d9ede532b1f5f034e22375d816f76c2" },
    { 16, "10000000000000000000000000000000", "1000000000000000", "00",
      "00",
      "61ed193d12a2adf6f1c41f31de4ead6c5c" },
    { 16, "20000000000000000000000000000000", "1000000000000000", "00",
      "00",
      "4b6e93acd3e4602b9c1ad49da985d1f872" },
    { 16, "00000000000000000000000000000000", "0000000000000000", "0000000000000000",
      "0000000000000000",
      "4661d681f92680d7a307c7a036700edde4697a1f3ba7e01b" },
    { 16, "00000000000000000000000000000001", "2000000000000000", "1000000000000000",
      "00000000000000000000000000000000",
      "8501dcfa461a0860ef9933655b1e59a9e7db1ed363b6ff80f219ca986dca9ce2" },
    { 16, "0a7a6d49e4ad042f1e1ffa168849d651", "4a9ba500be169ab3", "d40703848d887a01664c30734fa370581c5f8f6d0ea7bfdd",
      "424d6d60d7e08b3b41e968fc4557b93c",
      "aa4b4ca42d587b98d0d5f009c0efbc4fcaaefdc1c79a3cfe07801ed8c708d259" },
    { 16, "10000000000000000000000000000000", "0000000000000002", "",
      "0000000000000000000000000000000000",
      "691deb7b9ccbee91f48d12c7ad5fe3cd4e1e5e7d394f06b91228ec9a5dd2456ac7de9502a0b4010fb1ee1db94e940458fb" },
    { 16, "20000000000000000000000000000000", "2000000000000000", "00",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "f58d8fef7ac7782a4361a79c07f5e6c4672d8a45e6cb9ef67cb7177897358deb8d338d313d44f78e0b68a3723d7ca0fe5f62aa8af0a72e508f5d5f8491ecedb2" },
    { 16, "000102030405060708090a0b0c0d0e0f", "0001020304050607", "0102030405060708090a0b0c0d0e0f10",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "beffe57efbdadb693b5545d58454ba746c5362c6f37b65da457d85bfe6af8972cfea267b03f14aedf25e7501e88c0d79f5440d0ac49e5c4fdaab4dfac9aec4d3" },
    { 17, "67fc3ffd5353a432a6cbc982007606c8", "6958a70a975e32c6", "",
      "",
      "076243570112d32362c1d9e4ab4096ca" },
    { 17, "31dd758d120fd5d30063921a21f723be", "d3794fe387018e32", "1d838b6e861ea7576de110e08818de82a27337a99db7b95aa95c3347971ad4cfa0ef0960d6645f5a64f88c7d",
      "d0ae0d85e93ed6be853ded2031643116a03215b4fda224d2986d7233039aa47e91b686f4",
      "a6fe911b94e0b25a25bf6da71f28ad6a6b6920be01589e9194226f77c164606545d5cbdb76c99415b468c54517f5a8bc8dc8ac13b1b4285fe36f37f7884d5e4bfb32ecef56b4026bf02bfb1d4fce222e01ef9db9" },
};

static unsigned char  salt[32], nonce[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7 };

static unsigned char *
unhex_alloc(const char *h, size_t *n)
{
    unsigned char  *b = malloc(strlen(h) / 2 + 1);
    ssize_t         len = b ? fst_hex_decode(h, b, strlen(h) / 2 + 1) : -1;

    if (len < 0) {
        fprintf(stderr, "bad hex vector: %s\n", h);
        exit(1);
    }
    *n = (size_t) len;
    return b;
}

static void
test_sio_vectors(void)
{
    size_t  i, nv = sizeof(sio_vectors) / sizeof(sio_vectors[0]);
    size_t  good_seal = 0, good_open = 0, rejected = 0;

    for (i = 0; i < nv; i++) {
        size_t          kl, nl, al, pl, cl, ol;
        unsigned char  *k = unhex_alloc(sio_vectors[i].key, &kl);
        unsigned char  *n = unhex_alloc(sio_vectors[i].nonce, &nl);
        unsigned char  *a = unhex_alloc(sio_vectors[i].ad, &al);
        unsigned char  *p = unhex_alloc(sio_vectors[i].pt, &pl);
        unsigned char  *c = unhex_alloc(sio_vectors[i].ct, &cl);
        unsigned char  *o = malloc(fst_madmin_sio_sealed_len(pl, sio_vectors[i].buf_size) + 1);

        if (fst_madmin_sio_sealed_len(pl, sio_vectors[i].buf_size) == cl
            && fst_madmin_sio_seal(k, kl, n, a, al, sio_vectors[i].buf_size,
                                    p, pl, o) == 0
            && memcmp(o, c, cl) == 0)
        {
            good_seal++;
        }
        if (fst_madmin_sio_open(k, kl, n, a, al, sio_vectors[i].buf_size,
                                 c, cl, o, &ol) == 0
            && ol == pl && memcmp(o, p, pl) == 0)
        {
            good_open++;
        }
        c[cl - 1] ^= 0x01;
        if (fst_madmin_sio_open(k, kl, n, a, al, sio_vectors[i].buf_size,
                                 c, cl, o, &ol) != 0)
        {
            rejected++;
        }
        free(k); free(n); free(a); free(p); free(c); free(o);
    }
    is_int((long) good_seal, (long) nv, "sio-go vectors: all %zu seal to the "
           "published ciphertext", nv);
    is_int((long) good_open, (long) nv, "sio-go vectors: all open to the plaintext");
    is_int((long) rejected, (long) nv, "sio-go vectors: a flipped last bit is "
           "rejected in each");
}

int
main(void)
{
    unsigned char  *ct, *pt, buf[256], *data;
    size_t          ct_len, pt_len, n, i, j;
    char            hex[512], sum[65], err[256];

    plan(24);
    test_sio_vectors();
    for (i = 0; i < 32; i++) {
        salt[i] = (unsigned char) i;
    }

    is_int(fst_madmin_encrypt_with(PW, json21, strlen(json21), salt, nonce,
                                    &ct, &ct_len, err, sizeof(err)), 0,
           "encrypting a JSON body works");
    fst_hex_encode(ct, ct_len, hex);
    is_str(hex, vec21_hex, "the ciphertext is byte for byte madmin-go's");
    free(ct);

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        data = malloc(vectors[i].len + 1);
        for (j = 0; j < vectors[i].len; j++) {
            data[j] = (unsigned char) ('a' + j % 26);
        }
        ct = NULL;
        is_int(fst_madmin_encrypt_with(PW, data, vectors[i].len, salt, nonce,
                                        &ct, &ct_len, err, sizeof(err)), 0,
               "encrypting %zu bytes works", vectors[i].len);
        is_int((long) ct_len, (long) vectors[i].ct_len,
               "%zu bytes: ciphertext length as madmin-go's (fragments of 16 KiB)",
               vectors[i].len);
        fst_s3_sha256_hex(ct, ct_len, sum);
        is_str(sum, vectors[i].sha256, "%zu bytes: ciphertext equals madmin-go's",
               vectors[i].len);
        if (vectors[i].len == 16385) {
            ok(fst_madmin_decrypt(PW, ct, ct_len, &pt, &pt_len, err,
                                   sizeof(err)) == 0 && pt_len == 16385
               && memcmp(pt, data, pt_len) == 0,
               "a two-fragment stream decrypts to the plaintext");
            free(pt);
            ct[ct_len - 20] ^= 1;
            is_int(fst_madmin_decrypt(PW, ct, ct_len, &pt, &pt_len, err,
                                       sizeof(err)), -1,
                   "a flipped bit in the final fragment is detected");
            ok(strstr(err, "not authentic") != NULL, "and reported: %s", err);
            is_int(fst_madmin_decrypt(PW, ct, 16384 + 41 + 16, &pt, &pt_len,
                                       err, sizeof(err)), -1,
                   "a stream cut after a non-final fragment is refused");
        }
        free(ct);
        free(data);
    }

    if (fst_hex_decode(madmin_hex, buf, sizeof(buf)) < 0) {
        return fprintf(stderr, "bad hex vector: madmin_hex\n"), 1;
    }
    n = strlen(madmin_hex) / 2;
    is_int(fst_madmin_decrypt(PW, buf, n, &pt, &pt_len, err, sizeof(err)), 0,
           "madmin-go EncryptData output decrypts");
    is_str((char *) pt, "{\"arn\":\"from-madmin\"}", "to madmin's plaintext");
    free(pt);
    is_int(fst_madmin_decrypt("wrong", buf, n, &pt, &pt_len, err,
                               sizeof(err)), -1,
           "the wrong password is refused");
    buf[32] = 0x00;
    is_int(fst_madmin_decrypt(PW, buf, n, &pt, &pt_len, err, sizeof(err)), -1,
           "an Argon2id ciphertext is refused");
    ok(strstr(err, "algorithm id") != NULL, "with a clear reason: %s", err);

    ok(fst_madmin_encrypt(PW, json21, strlen(json21), &ct, &ct_len, err,
                           sizeof(err)) == 0
       && fst_madmin_decrypt(PW, ct, ct_len, &pt, &pt_len, err,
                              sizeof(err)) == 0
       && strcmp((char *) pt, json21) == 0,
       "random salt and nonce: round trip");
    free(ct);
    free(pt);
    return done_testing();
}
