/*
 * fado madmin crypt: the request body encryption of MinIO's admin API
 * (madmin-go EncryptData, its PBKDF2 + AES-256-GCM variant, which needs
 * only OpenSSL). Layout of a ciphertext:
 *
 *   salt (32) | algorithm id (1: 0x02) | nonce (8) | sio stream
 *
 * key = PBKDF2-HMAC-SHA256(password, salt, 8192 rounds, 32 bytes); the sio
 * stream is the data cut in 16 KiB fragments, each sealed with AES-256-GCM
 * under nonce || little-endian fragment number, the last one flagged as
 * final in its associated data (see docs/storage.md). The password is the
 * admin credential's secret key.
 */

#ifndef FST_MADMIN_CRYPT_H
#define FST_MADMIN_CRYPT_H

#include <stddef.h>

#define FST_MADMIN_SALT_LEN   32
#define FST_MADMIN_NONCE_LEN  8

/* Encrypt with a random salt and nonce. *out is malloc'd. 0 or -1. */
int fst_madmin_encrypt(const char *password, const void *data, size_t len,
    unsigned char **out, size_t *out_len, char *err, size_t err_len);

/* As above with the given salt and nonce: for test vectors only. */
int fst_madmin_encrypt_with(const char *password, const void *data,
    size_t len, const unsigned char *salt, const unsigned char *nonce,
    unsigned char **out, size_t *out_len, char *err, size_t err_len);

/* Decrypt and authenticate (PBKDF2 variant only: the Argon2id ones need
 * Argon2, which OpenSSL 3.0 lacks). *out is malloc'd, NUL-terminated. */
int fst_madmin_decrypt(const char *password, const void *data, size_t len,
    unsigned char **out, size_t *out_len, char *err, size_t err_len);

/*
 * The sio stream underneath (secure-io/sio-go's format), exposed for its
 * published test vectors: AES-128-GCM or AES-256-GCM by key_len (16/32),
 * an 8-byte nonce, the caller's associated data, fragments of buf_size.
 * seal writes fst_madmin_sio_sealed_len(len, buf_size) bytes to out; open
 * writes at most len bytes. 0, or -1 (open: not authentic).
 */
size_t fst_madmin_sio_sealed_len(size_t len, size_t buf_size);
int fst_madmin_sio_seal(const unsigned char *key, size_t key_len,
    const unsigned char *nonce, const void *ad, size_t ad_len,
    size_t buf_size, const void *data, size_t len, unsigned char *out);
int fst_madmin_sio_open(const unsigned char *key, size_t key_len,
    const unsigned char *nonce, const void *ad, size_t ad_len,
    size_t buf_size, const void *data, size_t len, unsigned char *out,
    size_t *out_len);

#endif /* FST_MADMIN_CRYPT_H */
