-- fado schema, version 2: the data plane.
--
-- jobs: replication and indexing work, claimed by the controller's workers
-- (FOR UPDATE SKIP LOCKED plus a per-bucket advisory lock held for the
-- job's duration, so a job whose controller died is free again the moment
-- PostgreSQL drops that connection) and retried with back-off.
--
-- objects: the index of each bucket's latest object versions on its home
-- cluster and the clusters holding that version. Kept current by the
-- object API and MinIO's bucket notifications, rebuilt by periodic scans
-- (notifications are hints: a lost one delays the index, never corrupts it).

CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    -- replica: converge, or stop replicating when the replica is removing;
    -- scan: rebuild the bucket's object index from listings
    kind         text NOT NULL CHECK (kind IN ('replica', 'scan')),
    bucket       text NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
    cluster      text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running')),
    attempts     integer NOT NULL DEFAULT 0,     -- failures in a row
    run_after    timestamptz NOT NULL DEFAULT now(),
    owner        text NOT NULL DEFAULT '',       -- controller instance running it
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, bucket, cluster)
);
CREATE INDEX jobs_due ON jobs (run_after);

-- When a ready replica was last verified, and since when it has been behind
-- its home (a ready replica stays routed while it lags less than the
-- configured bound: replication in flight is not a reason to flap).
ALTER TABLE replicas ADD COLUMN checked_at timestamptz;
ALTER TABLE replicas ADD COLUMN behind_since timestamptz;

ALTER TABLE buckets ADD COLUMN scanned_at timestamptz;

CREATE TABLE objects (
    bucket         text NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
    key            text NOT NULL,
    version_id     text NOT NULL DEFAULT '',
    size           bigint NOT NULL DEFAULT 0,
    etag           text NOT NULL DEFAULT '',
    content_type   text NOT NULL DEFAULT '',
    last_modified  timestamptz,
    locations      text[] NOT NULL DEFAULT '{}',   -- clusters holding version_id
    scan           bigint NOT NULL DEFAULT 0,      -- last scan that saw it
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (bucket, key)
);

