/* MinIO error -> fado API status (fst_s3_error_http_status). */

#include "tap.h"

#include "fst_s3_client.h"

int
main(void)
{
    plan(10);
    is_int(fst_s3_error_http_status(404, "NoSuchKey"), 404, "missing key: 404");
    is_int(fst_s3_error_http_status(404, "NoSuchBucket"), 404, "missing bucket: 404");
    is_int(fst_s3_error_http_status(404, ""), 404, "HEAD 404 without a code: 404");
    is_int(fst_s3_error_http_status(400, "InvalidBucketName"), 400, "bad name: 400");
    is_int(fst_s3_error_http_status(409, "BucketNotEmpty"), 409, "conflict: 409");
    is_int(fst_s3_error_http_status(416, "InvalidRange"), 416, "bad range: 416");
    is_int(fst_s3_error_http_status(403, "SignatureDoesNotMatch"), 502,
           "MinIO refusing fado's credentials is a bad gateway, not the caller's 403");
    is_int(fst_s3_error_http_status(503, "SlowDown"), 503, "slow down: 503");
    is_int(fst_s3_error_http_status(0, ""), 503, "MinIO unreachable: 503");
    is_int(fst_s3_error_http_status(500, "InternalError"), 502, "anything else: 502");
    return done_testing();
}
