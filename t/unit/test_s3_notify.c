/*
 * Bucket notification configuration merge/remove (fst_notify.c):
 * fado's queue configuration is added or replaced, everyone else's kept.
 */

#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "fst_notify.h"

#define ARN  "arn:minio:sqs::fado:webhook"

static const char *other =
    "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<QueueConfiguration><Id>audit</Id><Queue>arn:minio:sqs::audit:kafka</Queue>"
    "<Event>s3:ObjectCreated:Put</Event></QueueConfiguration>"
    "<TopicConfiguration><Id>t</Id><Topic>arn:aws:sns:x</Topic>"
    "<Event>s3:ObjectRemoved:*</Event></TopicConfiguration>"
    "</NotificationConfiguration>";

int
main(void)
{
    char  *out, *out2, err[256];
    int    changed;

    plan(12);
    is_int(fst_notify_merge(NULL, ARN, &out, &changed, err,
                                     sizeof(err)), 0, "merge into nothing");
    ok(changed && strstr(out, "<QueueConfiguration><Id>fado</Id><Queue>" ARN
                         "</Queue><Event>s3:ObjectCreated:*</Event>"
                         "<Event>s3:ObjectRemoved:*</Event>"
                         "<Event>s3:Replication:*</Event></QueueConfiguration>"),
       "fado's queue configuration asks for created, removed and replication events");
    is_int(fst_notify_merge(out, ARN, &out2, &changed, err,
                                     sizeof(err)), 0, "merge again");
    is_int(changed, 0, "an equivalent configuration is not rewritten");
    free(out2);
    free(out);

    is_int(fst_notify_merge(other, ARN, &out, &changed, err,
                                     sizeof(err)), 0, "merge next to others");
    ok(strstr(out, "<Id>audit</Id><Queue>arn:minio:sqs::audit:kafka</Queue>")
       && strstr(out, "<TopicConfiguration><Id>t</Id>"),
       "other queue and topic configurations are kept");
    is_int(fst_notify_merge(out, "arn:minio:sqs::fado2:webhook",
                                     &out2, &changed, err, sizeof(err)), 0,
           "a new webhook ARN");
    ok(changed && strstr(out2, "fado2") && !strstr(out2, "::fado:webhook"),
       "replaces fado's previous one");
    free(out);
    out = out2;

    is_int(fst_notify_remove(out, &out2, &changed, err, sizeof(err)),
           0, "remove fado's configuration");
    ok(changed && !strstr(out2, "<Id>fado</Id>") && strstr(out2, "<Id>audit</Id>"),
       "only fado's is gone");
    free(out);
    free(out2);

    is_int(fst_notify_merge(other, "webhook", &out, &changed, err,
                                     sizeof(err)), -1, "a target that is not an ARN is refused");
    ok(strstr(err, "\"webhook\"") != NULL, "naming it: %s", err);
    return done_testing();
}
