#include "fst_madmin_crypt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define FST_MADMIN_ID_PBKDF2_AESGCM  0x02
#define FST_MADMIN_PBKDF2_ROUNDS     8192
#define FST_MADMIN_FRAGMENT          16384
#define FST_MADMIN_TAG_LEN           16
#define FST_MADMIN_HDR_LEN  (FST_MADMIN_SALT_LEN + 1 + FST_MADMIN_NONCE_LEN)

static void
fst_madmin_err(char *err, size_t err_len, const char *msg)
{
    if (err && err_len) {
        snprintf(err, err_len, "madmin crypt: %s", msg);
    }
}

static int
fst_madmin_key(const char *password, const unsigned char *salt,
    unsigned char *key)
{
    return PKCS5_PBKDF2_HMAC(password, (int) strlen(password), salt,
                             FST_MADMIN_SALT_LEN, FST_MADMIN_PBKDF2_ROUNDS,
                             EVP_sha256(), 32, key) == 1 ? 0 : -1;
}

/* One AES-GCM operation (AES-128 or AES-256 by key length).
 * enc: out = ct || tag; dec: in = ct || tag, out = pt. */
static int
fst_madmin_gcm(int enc, const unsigned char *key, size_t key_len,
    const unsigned char *iv, const unsigned char *aad, size_t aad_len,
    const unsigned char *in, size_t in_len, unsigned char *out)
{
    EVP_CIPHER_CTX    *ctx;
    const EVP_CIPHER  *cipher;
    unsigned char      tag[FST_MADMIN_TAG_LEN];
    int                n, rc = -1;

    cipher = key_len == 16 ? EVP_aes_128_gcm()
             : key_len == 32 ? EVP_aes_256_gcm() : NULL;
    if (cipher == NULL) {
        return -1;
    }
    if (!enc) {
        if (in_len < FST_MADMIN_TAG_LEN) {
            return -1;
        }
        in_len -= FST_MADMIN_TAG_LEN;
        memcpy(tag, in + in_len, FST_MADMIN_TAG_LEN);
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return -1;
    }
    if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1
        || EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1
        || (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int) aad_len)
                       != 1)
        || (in_len && EVP_CipherUpdate(ctx, out, &n, in, (int) in_len) != 1))
    {
        goto done;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                                    FST_MADMIN_TAG_LEN, tag) != 1)
    {
        goto done;
    }
    if (EVP_CipherFinal_ex(ctx, out + in_len, &n) != 1) {
        goto done;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                                   FST_MADMIN_TAG_LEN, out + in_len) != 1)
    {
        goto done;
    }
    rc = 0;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static void
fst_madmin_iv(unsigned char *iv, const unsigned char *nonce, uint32_t seq)
{
    memcpy(iv, nonce, FST_MADMIN_NONCE_LEN);
    iv[8] = (unsigned char) seq;
    iv[9] = (unsigned char) (seq >> 8);
    iv[10] = (unsigned char) (seq >> 16);
    iv[11] = (unsigned char) (seq >> 24);
}

/*
 * The stream's per-fragment associated data: a flag byte (0x80 on the
 * final fragment) followed by the tag of an empty message carrying the
 * caller's associated data, sealed under fragment number 0.
 */
static int
fst_madmin_stream_ad(const unsigned char *key, size_t key_len,
    const unsigned char *nonce, const void *ad, size_t ad_len,
    unsigned char *out)
{
    unsigned char  iv[12];

    fst_madmin_iv(iv, nonce, 0);
    out[0] = 0x00;
    return fst_madmin_gcm(1, key, key_len, iv, ad, ad_len, NULL, 0, out + 1);
}

size_t
fst_madmin_sio_sealed_len(size_t len, size_t buf_size)
{
    size_t  nfrag = len == 0 ? 1 : (len + buf_size - 1) / buf_size;

    return len + nfrag * FST_MADMIN_TAG_LEN;
}

int
fst_madmin_sio_seal(const unsigned char *key, size_t key_len,
    const unsigned char *nonce, const void *ad, size_t ad_len,
    size_t buf_size, const void *data, size_t len, unsigned char *out)
{
    const unsigned char  *p = data;
    unsigned char         sad[1 + FST_MADMIN_TAG_LEN], iv[12];
    size_t                nfrag, i, flen;

    if (buf_size == 0) {
        return -1;
    }
    nfrag = len == 0 ? 1 : (len + buf_size - 1) / buf_size;
    if (nfrag >= UINT32_MAX
        || fst_madmin_stream_ad(key, key_len, nonce, ad, ad_len, sad) != 0)
    {
        return -1;
    }
    for (i = 0; i < nfrag; i++) {
        flen = i + 1 < nfrag ? buf_size : len - i * buf_size;
        sad[0] = i + 1 < nfrag ? 0x00 : 0x80;
        fst_madmin_iv(iv, nonce, (uint32_t) (i + 1));
        if (fst_madmin_gcm(1, key, key_len, iv, sad, sizeof(sad), p, flen,
                            out) != 0)
        {
            return -1;
        }
        p += flen;
        out += flen + FST_MADMIN_TAG_LEN;
    }
    return 0;
}

int
fst_madmin_sio_open(const unsigned char *key, size_t key_len,
    const unsigned char *nonce, const void *ad, size_t ad_len,
    size_t buf_size, const void *data, size_t len, unsigned char *out,
    size_t *out_len)
{
    const unsigned char  *p = data;
    unsigned char         sad[1 + FST_MADMIN_TAG_LEN], iv[12];
    size_t                left = len, n = 0, clen;
    uint32_t              seq = 1;
    int                   final;

    *out_len = 0;
    if (buf_size == 0
        || fst_madmin_stream_ad(key, key_len, nonce, ad, ad_len, sad) != 0)
    {
        return -1;
    }
    do {
        final = left <= buf_size + FST_MADMIN_TAG_LEN;
        clen = final ? left : buf_size + FST_MADMIN_TAG_LEN;
        if (clen < FST_MADMIN_TAG_LEN || seq == UINT32_MAX) {
            return -1;
        }
        sad[0] = final ? 0x80 : 0x00;
        fst_madmin_iv(iv, nonce, seq++);
        if (fst_madmin_gcm(0, key, key_len, iv, sad, sizeof(sad), p, clen,
                            out + n) != 0)
        {
            return -1;
        }
        n += clen - FST_MADMIN_TAG_LEN;
        p += clen;
        left -= clen;
    } while (!final);
    *out_len = n;
    return 0;
}

int
fst_madmin_encrypt_with(const char *password, const void *data, size_t len,
    const unsigned char *salt, const unsigned char *nonce,
    unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
    unsigned char  key[32], *o;
    size_t         total;

    *out = NULL;
    *out_len = 0;
    total = FST_MADMIN_HDR_LEN
            + fst_madmin_sio_sealed_len(len, FST_MADMIN_FRAGMENT);
    o = malloc(total);
    if (o == NULL) {
        fst_madmin_err(err, err_len, "out of memory");
        return -1;
    }
    memcpy(o, salt, FST_MADMIN_SALT_LEN);
    o[FST_MADMIN_SALT_LEN] = FST_MADMIN_ID_PBKDF2_AESGCM;
    memcpy(o + FST_MADMIN_SALT_LEN + 1, nonce, FST_MADMIN_NONCE_LEN);
    if (fst_madmin_key(password, salt, key) != 0
        || fst_madmin_sio_seal(key, sizeof(key), nonce, NULL, 0,
                                FST_MADMIN_FRAGMENT, data, len,
                                o + FST_MADMIN_HDR_LEN) != 0)
    {
        OPENSSL_cleanse(key, sizeof(key));
        free(o);
        fst_madmin_err(err, err_len, "PBKDF2 or AES-256-GCM failed");
        return -1;
    }
    OPENSSL_cleanse(key, sizeof(key));
    *out = o;
    *out_len = total;
    return 0;
}

int
fst_madmin_encrypt(const char *password, const void *data, size_t len,
    unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
    unsigned char  salt[FST_MADMIN_SALT_LEN], nonce[FST_MADMIN_NONCE_LEN];

    if (RAND_bytes(salt, sizeof(salt)) != 1
        || RAND_bytes(nonce, sizeof(nonce)) != 1)
    {
        fst_madmin_err(err, err_len, "no random bytes");
        return -1;
    }
    return fst_madmin_encrypt_with(password, data, len, salt, nonce, out,
                                    out_len, err, err_len);
}

int
fst_madmin_decrypt(const char *password, const void *data, size_t len,
    unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
    const unsigned char  *d = data;
    unsigned char         key[32], *o;
    size_t                n;

    *out = NULL;
    *out_len = 0;
    if (len < FST_MADMIN_HDR_LEN + FST_MADMIN_TAG_LEN) {
        fst_madmin_err(err, err_len, "ciphertext too short");
        return -1;
    }
    if (d[FST_MADMIN_SALT_LEN] != FST_MADMIN_ID_PBKDF2_AESGCM) {
        fst_madmin_err(err, err_len, "unsupported algorithm id (only "
                        "PBKDF2 + AES-256-GCM, 0x02)");
        return -1;
    }
    o = malloc(len + 1);
    if (o == NULL) {
        fst_madmin_err(err, err_len, "out of memory");
        return -1;
    }
    if (fst_madmin_key(password, d, key) != 0) {
        OPENSSL_cleanse(key, sizeof(key));
        free(o);
        fst_madmin_err(err, err_len, "key derivation failed");
        return -1;
    }
    if (fst_madmin_sio_open(key, sizeof(key), d + FST_MADMIN_SALT_LEN + 1,
                             NULL, 0, FST_MADMIN_FRAGMENT,
                             d + FST_MADMIN_HDR_LEN,
                             len - FST_MADMIN_HDR_LEN, o, &n) != 0)
    {
        OPENSSL_cleanse(key, sizeof(key));
        free(o);
        fst_madmin_err(err, err_len, "not authentic (wrong secret key or "
                        "corrupted data)");
        return -1;
    }
    OPENSSL_cleanse(key, sizeof(key));
    o[n] = '\0';
    *out = o;
    *out_len = n;
    return 0;
}
