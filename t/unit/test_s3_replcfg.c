/*
 * Bucket replication configuration merge/remove (fst_replcfg.c) on the
 * XML MinIO returns, and the S3 XML reader under it (fst_s3_xml.c).
 */

#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "fst_s3_xml.h"
#include "fst_replcfg.h"

#define ARN1 "arn:minio:replication:us-east-1:aaaa:b1"
#define ARN2 "arn:minio:replication:us-east-1:bbbb:b1"

/* As MinIO serialises it (GET ?replication), with a rule fado does not own. */
static const char *minio_doc =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ReplicationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Rule><ID>fado-eu-1</ID><Status>Enabled</Status><Priority>1</Priority>"
    "<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>"
    "<DeleteReplication><Status>Enabled</Status></DeleteReplication>"
    "<Destination><Bucket>" ARN1 "</Bucket></Destination>"
    "<Filter><And></And><Tag></Tag></Filter>"
    "<SourceSelectionCriteria><ReplicaModifications><Status>Enabled</Status>"
    "</ReplicaModifications></SourceSelectionCriteria>"
    "<ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>"
    "</Rule>"
    "<Rule><ID>operator-rule</ID><Status>Disabled</Status><Priority>7</Priority>"
    "<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>"
    "<Destination><Bucket>arn:minio:replication::cccc:other</Bucket></Destination>"
    "<Filter><Prefix>logs/</Prefix></Filter></Rule>"
    "</ReplicationConfiguration>";

static void
test_xml(void)
{
    const char          *doc = "<a><b x=\"1\">one &amp; &lt;two&gt;&#13;</b>"
                               "<c><b>nested</b></c><d/><e><e>in</e></e></a>";
    fst_s3_xml_span_t    s = { doc, doc + strlen(doc) }, in;
    char                 buf[64];

    ok(fst_s3_xml_copy(&s, "b", buf, sizeof(buf)) == 1
       && strcmp(buf, "one & <two>\r") == 0,
       "text is found past attributes and entities are decoded");
    is_int(fst_s3_xml_next(&s, "d", &in), 1, "an empty element <d/> is found");
    is_int((long) (in.end - in.p), 0, "and is empty");
    s.p = doc;
    ok(fst_s3_xml_next(&s, "e", &in) == 1
       && strncmp(in.p, "<e>in</e>", (size_t) (in.end - in.p)) == 0,
       "nested same-named elements close at the matching tag");
    ok(fst_s3_xml_copy(&s, "missing", buf, sizeof(buf)) == 0 && buf[0] == '\0',
       "a missing element reads as absent and empty");
    s.p = "<a><b>open";
    s.end = s.p + strlen(s.p);
    is_int(fst_s3_xml_next(&s, "b", &in), -1, "an unterminated element is malformed");
}

int
main(void)
{
    fst_replcfg_rule_t   r1 = { "fado-eu-1", ARN1, 1 };
    fst_replcfg_rule_t   r2 = { "fado-us-1", ARN2, 2 };
    fst_replcfg_rule_t   clash = { "fado-us-1", ARN2, 7 };
    char                *out, *out2, err[256];
    int                  changed;

    plan(25);
    test_xml();

    is_int(fst_replcfg_merge(NULL, &r1, &out, &changed, err,
                                      sizeof(err)), 0, "merge into nothing");
    is_int(changed, 1, "an empty configuration changes");
    ok(strstr(out, "<DeleteMarkerReplication><Status>Enabled</Status>") != NULL
       && strstr(out, "<ExistingObjectReplication><Status>Enabled</Status>") != NULL
       && strstr(out, "<DeleteReplication><Status>Enabled</Status>") != NULL,
       "the rule replicates delete markers, deletes and existing objects");
    ok(fst_replcfg_has(out, ARN1), "and points at the target ARN");
    free(out);

    is_int(fst_replcfg_merge(minio_doc, &r1, &out, &changed, err,
                                      sizeof(err)), 0,
           "merge an equivalent rule into MinIO's own serialisation");
    is_int(changed, 0, "nothing to write when the rule is already there");
    free(out);

    r1.priority = 3;
    fst_replcfg_merge(minio_doc, &r1, &out, &changed, err, sizeof(err));
    is_int(changed, 1, "a changed priority is a change");
    ok(strstr(out, "<Priority>3</Priority>") && !strstr(out, "<Priority>1</Priority>"),
       "and replaces the old rule rather than adding one");
    free(out);
    r1.priority = 1;

    is_int(fst_replcfg_merge(minio_doc, &r2, &out, &changed, err,
                                      sizeof(err)), 0, "a second target merges");
    ok(fst_replcfg_has(out, ARN1) && fst_replcfg_has(out, ARN2),
       "both targets have a rule");
    ok(strstr(out, "<ID>operator-rule</ID><Status>Disabled</Status><Priority>7</Priority>") != NULL
       && strstr(out, "<Prefix>logs/</Prefix>") != NULL,
       "a rule fado does not own is kept as it was");

    is_int(fst_replcfg_merge(minio_doc, &clash, &out2, &changed, err,
                                      sizeof(err)), -1,
           "a priority used by another rule is refused");
    ok(strstr(err, "priority 7") && strstr(err, "operator-rule"),
       "naming the priority and the rule: %s", err);

    is_int(fst_replcfg_remove(out, ARN2, &out2, &changed, err,
                                       sizeof(err)), 0, "remove one target's rule");
    ok(changed && out2 && !fst_replcfg_has(out2, ARN2)
       && fst_replcfg_has(out2, ARN1),
       "only that rule is gone");
    free(out);
    out = out2;
    fst_replcfg_remove(out, ARN1, &out2, &changed, err, sizeof(err));
    ok(changed && out2 && strstr(out2, "operator-rule") && !strstr(out2, "fado-"),
       "removing the last fado rule keeps the operator's");
    free(out);
    fst_replcfg_remove(out2, "arn:minio:replication::cccc:other", &out,
                                &changed, err, sizeof(err));
    ok(changed && out == NULL, "no rule left: the configuration is to be deleted");
    free(out2);

    is_int(fst_replcfg_merge("<NotReplication/>", &r1, &out, &changed,
                                      err, sizeof(err)), -1,
           "a document that is not a replication configuration is refused");
    r1.priority = 0;
    is_int(fst_replcfg_merge(NULL, &r1, &out, &changed, err,
                                      sizeof(err)), -1,
           "priority 0 is refused: %s", err);
    return done_testing();
}
