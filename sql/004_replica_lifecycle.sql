-- fado schema, version 4: the replica lifecycle without data loss.
--
-- A replica's health is its own: a check that cannot reach the bucket's
-- home records the failure on the bucket (home_error) and leaves the
-- replica's state alone, so a ready replica keeps serving reads while its
-- home is down. A cluster that leaves a bucket's placement keeps its data;
-- released_copies records that copy until a confirmed request deletes it.

-- The last failure to reach the home's object store seen by a job ('' when
-- the home answered last time). The API shows the home as unavailable when
-- this is set or the home cluster is marked down.
ALTER TABLE buckets ADD COLUMN home_error text NOT NULL DEFAULT '';
ALTER TABLE buckets ADD COLUMN home_error_at timestamptz;

-- Whether the cluster's copy of the bucket may hold replication rules of
-- ours towards other clusters (it is, or was, the bucket's home). A copy
-- leaving the placement must lose them first, and when its cluster cannot
-- be reached this says whether there is anything to wait for.
ALTER TABLE replicas ADD COLUMN rules_out boolean NOT NULL DEFAULT false;
UPDATE replicas r SET rules_out = true
  FROM buckets b WHERE b.name = r.bucket AND b.home_cluster = r.cluster;

-- Copies kept on clusters that left a bucket's placement. Nothing replicates
-- to or from them any more (their rules and targets were removed before the
-- replica row went). state 'deleting': a confirmed DELETE
-- /v1/buckets/{b}/copies/{cluster} asked for the data to go; the
-- (bucket, cluster) replica job deletes it and then the row.
CREATE TABLE released_copies (
    bucket       text NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
    cluster      text NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    home_cluster text NOT NULL,                 -- the home when it was released
    state        text NOT NULL DEFAULT 'kept' CHECK (state IN ('kept', 'deleting')),
    reason       text NOT NULL DEFAULT '',      -- why a deletion is not done yet
    released_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, cluster)
);

-- A cluster coming back: the jobs that waited for it run now, with their
-- back-off forgotten (a store that has just restarted may refuse the first
-- call: the retry comes after 1 s, not after the minute the outage built
-- up), and its ready replicas are verified at once. While it was down the
-- placement gave it no new replicas (fado_reconcile.c, fado_place_one),
-- and within the grace period nothing else changes when it returns: the
-- buckets that could hold it and do not are placed again now, not at the
-- next full reconcile.
CREATE FUNCTION fado_cluster_back() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_buckets(ARRAY(
        SELECT b FROM unnest(fado_cluster_buckets(ARRAY[NEW.name], ARRAY[NEW.zone])) AS b
         WHERE NOT EXISTS (SELECT 1 FROM replicas r
                            WHERE r.bucket = b AND r.cluster = NEW.name)), true);
    UPDATE jobs SET run_after = now(), attempts = 0
     WHERE state = 'queued' AND kind = 'replica'
       AND (cluster = NEW.name
            OR bucket IN (SELECT name FROM buckets WHERE home_cluster = NEW.name));
    INSERT INTO jobs (kind, bucket, cluster)
    SELECT 'replica', r.bucket, r.cluster FROM replicas r WHERE r.cluster = NEW.name
    ON CONFLICT (kind, bucket, cluster) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER clusters_back AFTER UPDATE OF healthy ON clusters
    FOR EACH ROW WHEN (NEW.healthy AND NOT OLD.healthy)
    EXECUTE FUNCTION fado_cluster_back();

-- A home move: every replica of the bucket is converged from the new home
-- (and the old home drops its own rules) now, not at the next
-- verification. The old home's error says nothing about the new one.
CREATE FUNCTION fado_bucket_home_error_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.home_error := '';
    NEW.home_error_at := NULL;
    RETURN NEW;
END $$;

CREATE TRIGGER buckets_home_error_reset BEFORE UPDATE OF home_cluster ON buckets
    FOR EACH ROW WHEN (NEW.home_cluster IS DISTINCT FROM OLD.home_cluster)
    EXECUTE FUNCTION fado_bucket_home_error_reset();

CREATE FUNCTION fado_bucket_home_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE replicas SET rules_out = true WHERE bucket = NEW.name AND cluster = NEW.home_cluster;
    INSERT INTO jobs (kind, bucket, cluster)
    SELECT 'replica', r.bucket, r.cluster FROM replicas r WHERE r.bucket = NEW.name
    ON CONFLICT (kind, bucket, cluster) DO UPDATE SET run_after = now(), attempts = 0
     WHERE jobs.state = 'queued';
    RETURN NULL;
END $$;

CREATE TRIGGER buckets_home_moved AFTER UPDATE OF home_cluster ON buckets
    FOR EACH ROW WHEN (NEW.home_cluster IS DISTINCT FROM OLD.home_cluster)
    EXECUTE FUNCTION fado_bucket_home_moved();

-- The home's availability as the API shows it on a bucket: unavailable
-- when the cluster is marked down or a job could not reach its store.
CREATE FUNCTION fado_bucket_home_unavailable(b buckets) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT b.home_error <> ''
           OR NOT coalesce((SELECT healthy FROM clusters WHERE name = b.home_cluster), false)
$$;

CREATE FUNCTION fado_bucket_home_json(b buckets) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'cluster', b.home_cluster,
        'available', NOT fado_bucket_home_unavailable(b),
        'reason', CASE
            WHEN b.home_error <> '' THEN b.home_error
            WHEN fado_bucket_home_unavailable(b) THEN 'cluster "' || b.home_cluster || '" is down'
            ELSE '' END,
        'since', b.home_error_at)
$$;

CREATE FUNCTION fado_bucket_copies_json(bucket text) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('cluster', c.cluster, 'state', c.state,
               'home_cluster', c.home_cluster, 'released_at', c.released_at,
               'reason', c.reason) ORDER BY c.cluster), '[]')
      FROM released_copies c WHERE c.bucket = $1
$$;
