-- fado schema, version 5: clusters in several zones, FaDO's replica
-- counting, FaDO's management URL.
--
-- A FaDO cluster lists its zones (["global", "zone-1"]); a bucket may use
-- a cluster when ANY of them is allowed. `zones` holds the list (1..16
-- names, no duplicates, each an existing zone); `zone` stays, always
-- zones[1], so that every reader of the old column (and the zone foreign
-- key) keeps working. Existing rows keep their zone as a one-element list.

ALTER TABLE clusters ADD COLUMN zones text[];
UPDATE clusters SET zones = ARRAY[zone];
ALTER TABLE clusters ALTER COLUMN zones SET NOT NULL;
ALTER TABLE clusters ADD CONSTRAINT clusters_zones_count
    CHECK (cardinality(zones) BETWEEN 1 AND 16 AND array_position(zones, NULL) IS NULL);

-- FaDO's storage_deployments[].management_url (its MinIO console), kept
-- and shown, never used by fado itself.
ALTER TABLE clusters ADD COLUMN management_url text NOT NULL DEFAULT ''
    CHECK (length(management_url) <= 2048);

-- Whoever writes one of the two columns, the other follows: an old-style
-- write of `zone` makes the list that zone alone; a write of `zones` makes
-- `zone` its first element. Every element must name a zone (arrays take no
-- foreign key: checked here, with the foreign key's SQLSTATE).
CREATE FUNCTION fado_cluster_zones_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.zones IS NULL OR NEW.zones = '{}' THEN
            NEW.zones := ARRAY[NEW.zone];
        ELSE
            NEW.zone := NEW.zones[1];
        END IF;
    ELSIF NEW.zones IS DISTINCT FROM OLD.zones THEN
        NEW.zone := NEW.zones[1];
    ELSIF NEW.zone IS DISTINCT FROM OLD.zone THEN
        NEW.zones := ARRAY[NEW.zone];
    END IF;
    IF (SELECT count(DISTINCT z) FROM unnest(NEW.zones) z) <> cardinality(NEW.zones) THEN
        RAISE EXCEPTION 'cluster "%" lists a zone twice', NEW.name
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT string_agg(z, ',') INTO missing FROM unnest(NEW.zones) z
     WHERE NOT EXISTS (SELECT 1 FROM zones WHERE name = z);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'unknown zones: %', missing USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER clusters_zones_sync BEFORE INSERT OR UPDATE ON clusters
    FOR EACH ROW EXECUTE FUNCTION fado_cluster_zones_sync();

-- A zone that any cluster lists (not only first) cannot go or be renamed.
CREATE FUNCTION fado_zone_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.name = OLD.name THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM clusters WHERE OLD.name = ANY (zones)) THEN
        RAISE EXCEPTION 'zone "%" is in use by a cluster', OLD.name
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER zones_in_use BEFORE DELETE OR UPDATE OF name ON zones
    FOR EACH ROW EXECUTE FUNCTION fado_zone_in_use();

-- The change triggers of 003 and 004, on the zone lists: a cluster that
-- gains or loses a zone re-places the buckets that could use it before or
-- after (fado_cluster_buckets takes the union of the old and new zones),
-- and its record (which publishes the list) is rewritten.
CREATE OR REPLACE FUNCTION fado_clusters_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(SELECT name FROM new_rows));
    PERFORM fado_mark_buckets(fado_cluster_buckets(ARRAY(SELECT name FROM new_rows),
                                                   ARRAY(SELECT unnest(zones) FROM new_rows)),
                              true);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION fado_clusters_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved text[];
    zones text[];
    rekeyed text[];
BEGIN
    PERFORM fado_mark_clusters(ARRAY(
        SELECT n.name FROM new_rows n JOIN old_rows o ON o.name = n.name
         WHERE (n.zones, n.healthy) IS DISTINCT FROM (o.zones, o.healthy)));
    SELECT array_agg(n.name) INTO moved
      FROM new_rows n JOIN old_rows o ON o.name = n.name
     WHERE (n.zones, n.eligible, n.storage_endpoint = '')
           IS DISTINCT FROM (o.zones, o.eligible, o.storage_endpoint = '');
    IF moved IS NOT NULL THEN
        SELECT ARRAY(SELECT unnest(n.zones) FROM new_rows n WHERE n.name = ANY (moved)
                     UNION
                     SELECT unnest(o.zones) FROM old_rows o WHERE o.name = ANY (moved))
          INTO zones;
        PERFORM fado_mark_buckets(fado_cluster_buckets(moved, zones), true);
    END IF;
    SELECT array_agg(n.name) INTO rekeyed
      FROM new_rows n JOIN old_rows o ON o.name = n.name
     WHERE (n.storage_endpoint, n.storage_access_key, n.storage_secret_key)
           IS DISTINCT FROM (o.storage_endpoint, o.storage_access_key, o.storage_secret_key);
    IF rekeyed IS NOT NULL THEN
        UPDATE jobs SET run_after = now()
         WHERE state = 'queued'
           AND (cluster = ANY (rekeyed)
                OR bucket IN (SELECT name FROM buckets WHERE home_cluster = ANY (rekeyed)));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION fado_clusters_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(SELECT name FROM old_rows));
    PERFORM fado_mark_buckets(fado_cluster_buckets(ARRAY(SELECT name FROM old_rows),
                                                   ARRAY(SELECT unnest(zones) FROM old_rows)),
                              true);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION fado_cluster_back() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_buckets(ARRAY(
        SELECT b FROM unnest(fado_cluster_buckets(ARRAY[NEW.name], NEW.zones)) AS b
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

-- FaDO's replica count (controller/fado_import.c): `replicas` still counts
-- the home (FaDO's target_replica_count + 1); with cap_replicas the
-- placement gives what the eligible clusters allow instead of calling the
-- bucket unsatisfiable, and the allowed zones bound the replicas, not the
-- home. placement_effective is how many it placed when it capped (NULL:
-- not capped).
ALTER TABLE buckets ADD COLUMN cap_replicas boolean NOT NULL DEFAULT false;
ALTER TABLE buckets ADD COLUMN placement_effective integer;

CREATE OR REPLACE FUNCTION fado_buckets_updated() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
BEGIN
    IF fado_placing() THEN
        RETURN NULL;        -- placement results only: the leader publishes them
    END IF;
    PERFORM fado_mark_buckets(ARRAY(
        SELECT n.name FROM new_rows n JOIN old_rows o ON o.name = n.name
         WHERE (n.home_cluster, n.allowed_zones, n.replicas, n.pinned_clusters,
                n.cap_replicas)
               IS DISTINCT FROM
               (o.home_cluster, o.allowed_zones, o.replicas, o.pinned_clusters,
                o.cap_replicas)), true);
    PERFORM fado_mark_buckets(ARRAY(
        SELECT n.name FROM new_rows n JOIN old_rows o ON o.name = n.name
         WHERE n.policy IS DISTINCT FROM o.policy), false);
    RETURN NULL;
END $$;
