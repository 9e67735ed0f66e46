-- fado schema, version 3: changes drive the control plane.
--
-- Every write records what it affects in the same transaction, through the
-- triggers below, and wakes the leading controller with NOTIFY fado_changes:
--
--   dirty_buckets   buckets whose placement (place) or route must be redone
--   dirty_clusters  clusters whose route record (zone, state, endpoints)
--                   must be redone
--
-- The leader reads a batch, re-places and re-publishes only those, and then
-- deletes the rows whose seq it read: a row written again meanwhile has a
-- new seq and stays for the next batch, so no change is lost and nobody
-- waits on a lock. A slow periodic full reconcile walks every bucket in
-- chunks, between batches of these, to repair drift.
--
-- The empty bucket name stands for the default route.
--
-- The leader's own placement writes run with fado.placing = 'on' and are not
-- recorded again: it publishes what they change in the same batch.

CREATE SEQUENCE change_seq;

CREATE TABLE dirty_buckets (
    bucket  text PRIMARY KEY,
    place   boolean NOT NULL DEFAULT false,
    seq     bigint NOT NULL DEFAULT nextval('change_seq')
);
CREATE INDEX dirty_buckets_order ON dirty_buckets (seq);

CREATE TABLE dirty_clusters (
    cluster  text PRIMARY KEY,
    seq      bigint NOT NULL DEFAULT nextval('change_seq')
);

-- What the publisher last wrote for each cluster record (contract 2).
CREATE TABLE published_clusters (
    cluster     text PRIMARY KEY,
    body        text NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Placement eligibility is not health: a cluster that stops answering keeps
-- its replicas in the placement for a grace period (a transient failure
-- never moves data); only then the health checker clears eligible.
ALTER TABLE clusters ADD COLUMN unhealthy_since timestamptz;
ALTER TABLE clusters ADD COLUMN eligible boolean NOT NULL DEFAULT true;

-- The due-work queries of the job scheduler read these, not whole tables.
CREATE INDEX replicas_unready ON replicas (bucket) WHERE state <> 'ready';
CREATE INDEX replicas_checked ON replicas (checked_at) WHERE state = 'ready';
CREATE INDEX replicas_cluster ON replicas (cluster);
CREATE INDEX buckets_scanned ON buckets (scanned_at);
CREATE INDEX buckets_home ON buckets (home_cluster);

-- Marks buckets; place ORs in.
CREATE FUNCTION fado_mark_buckets(names text[], place boolean)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO dirty_buckets (bucket, place)
    SELECT DISTINCT u, place FROM unnest(names) AS u WHERE u IS NOT NULL
    ON CONFLICT (bucket) DO UPDATE
       SET place = dirty_buckets.place OR EXCLUDED.place,
           seq = EXCLUDED.seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('fado_changes', '');
    END IF;
    RETURN n;
END $$;

CREATE FUNCTION fado_mark_clusters(names text[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO dirty_clusters (cluster)
    SELECT DISTINCT u FROM unnest(names) AS u WHERE u IS NOT NULL
    ON CONFLICT (cluster) DO UPDATE SET seq = EXCLUDED.seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('fado_changes', '');
    END IF;
    RETURN n;
END $$;

CREATE FUNCTION fado_placing() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('fado.placing', true), '') = 'on'
$$;

-- buckets: a new or deleted bucket, a placement field or the policy.
CREATE FUNCTION fado_buckets_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_buckets(ARRAY(SELECT name FROM new_rows), true);
    RETURN NULL;
END $$;

CREATE FUNCTION fado_buckets_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_buckets(ARRAY(
        SELECT n.name FROM new_rows n JOIN old_rows o ON o.name = n.name
         WHERE (n.home_cluster, n.allowed_zones, n.replicas, n.pinned_clusters)
               IS DISTINCT FROM
               (o.home_cluster, o.allowed_zones, o.replicas, o.pinned_clusters)), true);
    PERFORM fado_mark_buckets(ARRAY(
        SELECT n.name FROM new_rows n JOIN old_rows o ON o.name = n.name
         WHERE n.policy IS DISTINCT FROM o.policy), false);
    RETURN NULL;
END $$;

CREATE FUNCTION fado_buckets_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_buckets(ARRAY(SELECT name FROM old_rows), false);
    RETURN NULL;
END $$;

CREATE TRIGGER buckets_inserted AFTER INSERT ON buckets
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_buckets_inserted();
CREATE TRIGGER buckets_updated AFTER UPDATE ON buckets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_buckets_updated();
CREATE TRIGGER buckets_deleted AFTER DELETE ON buckets
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_buckets_deleted();

-- replicas: a state change decides routes and, make before break, whether
-- a leaving replica may go; re-place the bucket.
CREATE FUNCTION fado_replicas_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT fado_placing() THEN
        PERFORM fado_mark_buckets(ARRAY(SELECT bucket FROM new_rows), true);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION fado_replicas_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT fado_placing() THEN
        PERFORM fado_mark_buckets(ARRAY(
            SELECT n.bucket FROM new_rows n
              JOIN old_rows o ON o.bucket = n.bucket AND o.cluster = n.cluster
             WHERE n.state IS DISTINCT FROM o.state), true);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION fado_replicas_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT fado_placing() THEN
        -- A bucket's own deletion cascades here: the bucket is marked by
        -- its trigger already and gone; marking it again is harmless.
        PERFORM fado_mark_buckets(ARRAY(SELECT bucket FROM old_rows), true);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER replicas_inserted AFTER INSERT ON replicas
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_replicas_inserted();
CREATE TRIGGER replicas_updated AFTER UPDATE ON replicas
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_replicas_updated();
CREATE TRIGGER replicas_deleted AFTER DELETE ON replicas
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_replicas_deleted();

-- clusters: its record (zone, health) always; the placement of the buckets
-- it could hold or holds when it appears, goes, moves zone, gains or loses
-- storage, or changes eligibility; its jobs retried now when credentials
-- change (a replica that failed on wrong keys converges at once).
CREATE FUNCTION fado_cluster_buckets(names text[], zones text[]) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY(
        SELECT b.name FROM buckets b
         WHERE b.allowed_zones = '{}' OR b.allowed_zones && zones
            OR b.home_cluster = ANY (names) OR b.pinned_clusters && names
        UNION
        SELECT r.bucket FROM replicas r WHERE r.cluster = ANY (names))
$$;

CREATE FUNCTION fado_clusters_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(SELECT name FROM new_rows));
    PERFORM fado_mark_buckets(fado_cluster_buckets(ARRAY(SELECT name FROM new_rows),
                                                   ARRAY(SELECT zone FROM new_rows)), true);
    RETURN NULL;
END $$;

CREATE FUNCTION fado_clusters_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved text[];
    zones text[];
BEGIN
    PERFORM fado_mark_clusters(ARRAY(
        SELECT n.name FROM new_rows n JOIN old_rows o ON o.name = n.name
         WHERE (n.zone, n.healthy) IS DISTINCT FROM (o.zone, o.healthy)));
    SELECT array_agg(n.name), array_agg(n.zone) || array_agg(o.zone) INTO moved, zones
      FROM new_rows n JOIN old_rows o ON o.name = n.name
     WHERE (n.zone, n.eligible, n.storage_endpoint = '')
           IS DISTINCT FROM (o.zone, o.eligible, o.storage_endpoint = '');
    IF moved IS NOT NULL THEN
        PERFORM fado_mark_buckets(fado_cluster_buckets(moved, zones), true);
    END IF;
    UPDATE jobs j SET run_after = now()
      FROM new_rows n JOIN old_rows o ON o.name = n.name
     WHERE (n.storage_endpoint, n.storage_access_key, n.storage_secret_key)
           IS DISTINCT FROM (o.storage_endpoint, o.storage_access_key, o.storage_secret_key)
       AND j.state = 'queued'
       AND (j.cluster = n.name
            OR j.bucket IN (SELECT b.name FROM buckets b WHERE b.home_cluster = n.name));
    RETURN NULL;
END $$;

CREATE FUNCTION fado_clusters_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(SELECT name FROM old_rows));
    PERFORM fado_mark_buckets(fado_cluster_buckets(ARRAY(SELECT name FROM old_rows),
                                                   ARRAY(SELECT zone FROM old_rows)), true);
    RETURN NULL;
END $$;

CREATE TRIGGER clusters_inserted AFTER INSERT ON clusters
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_clusters_inserted();
CREATE TRIGGER clusters_updated AFTER UPDATE ON clusters
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_clusters_updated();
CREATE TRIGGER clusters_deleted AFTER DELETE ON clusters
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_clusters_deleted();

-- endpoints: one cluster record each, whatever the number of buckets.
CREATE FUNCTION fado_endpoints_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(SELECT cluster FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION fado_endpoints_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(SELECT cluster FROM new_rows
                                     UNION SELECT cluster FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION fado_endpoints_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(SELECT cluster FROM old_rows));
    RETURN NULL;
END $$;

CREATE TRIGGER endpoints_inserted AFTER INSERT ON endpoints
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_endpoints_inserted();
CREATE TRIGGER endpoints_updated AFTER UPDATE ON endpoints
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_endpoints_updated();
CREATE TRIGGER endpoints_deleted AFTER DELETE ON endpoints
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_endpoints_deleted();

-- settings: the default policy is part of every route without an override.
CREATE FUNCTION fado_settings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = 'default_policy'
       AND (TG_OP = 'INSERT' OR NEW.value IS DISTINCT FROM OLD.value) THEN
        PERFORM fado_mark_buckets(ARRAY(SELECT name FROM buckets WHERE policy = '-'), false);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE ON settings
    FOR EACH ROW EXECUTE FUNCTION fado_settings_changed();

-- Contract 2 replaces every record: the first leader republishes all
-- (a new epoch) and walks every bucket in its first full reconcile.
DELETE FROM controller_state WHERE key LIKE 'redis_epoch:%';
