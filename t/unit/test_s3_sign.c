/*
 * SigV4 signer against AWS's published S3 examples ("Signature Calculations
 * for the Authorization Header: Transferring Payload in a Single Chunk",
 * examplebucket, 20130524) plus the S3 encoding rules they do not cover.
 */

#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "fst_s3_sign.h"

static const fst_s3_creds_t  aws_creds = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "us-east-1", "s3"
};

#define AWS_DATE  "20130524T000000Z"
#define AWS_HOST  "examplebucket.s3.amazonaws.com"
#define AWS_CRED  "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"

static void
test_get_object(void)
{
    fst_s3_kv_t          hdr[] = {
        { "Host", AWS_HOST }, { "Range", "bytes=0-9" },
        { "x-amz-content-sha256", FST_S3_EMPTY_SHA256 },
        { "x-amz-date", AWS_DATE },
    };
    fst_s3_sign_input_t   in = { "GET", "/test.txt", NULL, 0, hdr, 4,
                                  FST_S3_EMPTY_SHA256, AWS_DATE };
    fst_s3_signed_t       out;
    char                  err[128];

    is_int(fst_s3_sign(&aws_creds, &in, &out, err, sizeof(err)), 0,
           "GET object example signs");
    is_str(out.authorization, AWS_CRED
           "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
           "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
           "GET object example matches AWS's Authorization header");
    is_str(out.uri, "/test.txt", "GET object example URI is the path");
    fst_s3_signed_free(&out);
}

static void
test_put_object(void)
{
    char                  hash[65];
    fst_s3_kv_t           hdr[] = {
         { "Host", AWS_HOST }, { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
         { "x-amz-date", AWS_DATE }, { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
         { "x-amz-content-sha256", hash },
    };
    fst_s3_sign_input_t   in = { "PUT", "/test$file.text", NULL, 0, hdr, 5,
                                  hash, AWS_DATE };
    fst_s3_signed_t       out;
    const char           *body = "Welcome to Amazon S3.";

    is_int(fst_s3_sha256_hex(body, strlen(body), hash), 0, "payload hashes");
    is_str(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
           "PUT object example payload hash matches AWS's");
    is_int(fst_s3_sign(&aws_creds, &in, &out, NULL, 0), 0,
           "PUT object example signs");
    is_str(out.authorization, AWS_CRED
           "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
           "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
           "PUT object example matches AWS's Authorization header");
    is_str(out.uri, "/test%24file.text", "PUT object example encodes '$' in the path");
    fst_s3_signed_free(&out);
}

static void
test_get_lifecycle(void)
{
    fst_s3_kv_t  q[] = { { "lifecycle", NULL } };
    fst_s3_kv_t  hdr[] = {
{ "Host", AWS_HOST }, { "x-amz-date", AWS_DATE },
{ "x-amz-content-sha256", FST_S3_EMPTY_SHA256 },
    };
    fst_s3_sign_input_t  in = { "GET", "/", q, 1, hdr, 3,
                                 FST_S3_EMPTY_SHA256, AWS_DATE };
    fst_s3_signed_t      out;

    is_int(fst_s3_sign(&aws_creds, &in, &out, NULL, 0), 0,
           "GET bucket lifecycle example signs");
    is_str(out.authorization, AWS_CRED
           "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
           "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
           "GET bucket lifecycle example matches AWS's Authorization header");
    is_str(out.uri, "/?lifecycle=", "a valueless sub-resource gets '=' as S3 canonicalises it");
    fst_s3_signed_free(&out);
}

static void
test_list_objects(void)
{
    /* given out of order on purpose: the signer sorts */
    fst_s3_kv_t  q[] = { { "prefix", "J" }, { "max-keys", "2" } };
    fst_s3_kv_t  hdr[] = {
{ "x-amz-date", AWS_DATE }, { "HOST", AWS_HOST },
{ "x-amz-content-sha256", FST_S3_EMPTY_SHA256 },
    };
    fst_s3_sign_input_t  in = { "GET", "/", q, 2, hdr, 3,
                                 FST_S3_EMPTY_SHA256, AWS_DATE };
    fst_s3_signed_t      out;

    is_int(fst_s3_sign(&aws_creds, &in, &out, NULL, 0), 0,
           "GET bucket (list objects) example signs");
    is_str(out.authorization, AWS_CRED
           "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
           "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
           "list objects example matches AWS's Authorization header (query sorted)");
    is_str(out.uri, "/?max-keys=2&prefix=J", "query parameters are sent sorted");
    fst_s3_signed_free(&out);
}

static void
test_encoding_rules(void)
{
    fst_s3_kv_t  q[] = { { "prefix", "a b/c+d=" }, { "list-type", "2" } };
    fst_s3_kv_t  hdr[] = {
{ "Host", "127.0.0.1:9000" }, { "X-Amz-Meta-Note", "  two   words  " },
    };
    fst_s3_sign_input_t   in = { "GET", "/bkt/dir//caf\xc3\xa9 x~y", q, 2, hdr, 2,
                                  FST_S3_UNSIGNED, AWS_DATE };
    fst_s3_signed_t       out;
    char                  err[128] = "";
    char                 *e;

    is_int(fst_s3_sign(&aws_creds, &in, &out, err, sizeof(err)), 0,
           "a key with UTF-8, spaces and '//' signs");
    is_str(out.uri, "/bkt/dir//caf%C3%A9%20x~y?list-type=2&prefix=a%20b%2Fc%2Bd%3D",
           "path keeps '/' and '//', query encodes '/', '+', '=' and space");
    ok(strstr(out.canonical_request, "\nx-amz-meta-note:two words\n") != NULL,
       "header names are lowercased and values trimmed and collapsed");
    ok(strstr(out.canonical_request, "\nUNSIGNED-PAYLOAD") != NULL,
       "UNSIGNED-PAYLOAD ends the canonical request");
    fst_s3_signed_free(&out);

    in.path = "relative";
    is_int(fst_s3_sign(&aws_creds, &in, &out, err, sizeof(err)), -1,
           "a path without a leading '/' is refused");
    ok(strstr(err, "sigv4") != NULL, "and the error says where: %s", err);

    e = fst_s3_uri_encode("AZaz09-_.~ !*'()", 0);
    is_str(e, "AZaz09-_.~%20%21%2A%27%28%29", "only unreserved characters stay");
    free(e);
}

static void
test_content_md5(void)
{
    char  b64[25];

    is_int(fst_s3_md5_base64("", 0, b64), 0, "MD5 of nothing");
    is_str(b64, "1B2M2Y8AsgTpgAmY7PhCfg==", "Content-MD5 of the empty body");
}

int
main(void)
{
    plan(23);
    test_get_object();
    test_put_object();
    test_get_lifecycle();
    test_list_objects();
    test_encoding_rules();
    test_content_md5();
    return done_testing();
}
