-- 007: policies random and first, per-bucket route overrides, and the
-- bucket_header setting published to the gateways.
--
--   route_overrides     a bucket routed to an explicit list of endpoints with
--                       its own policy (FaDO's route-overrides), published
--                       as an F1 record instead of the bucket's F2 record
--   published_settings  what the publisher last wrote to Redis's settings
--                       hash (docs/routing-contract.md, "Settings")

-- The policy tokens of the route contract (ngx_http_fado_record.c); the API
-- maps FaDO's names onto them before it writes (controller/fado_policy.c).
ALTER TABLE buckets ADD CONSTRAINT buckets_policy_token
    CHECK (policy IN ('-', 'rr', 'lc', 'p2c', 'ewma', 'chash', 'random', 'first'));
ALTER TABLE settings ADD CONSTRAINT settings_default_policy_token
    CHECK (key <> 'default_policy'
           OR value IN ('-', 'rr', 'lc', 'p2c', 'ewma', 'chash', 'random', 'first'));
ALTER TABLE settings ADD CONSTRAINT settings_bucket_header_name
    CHECK (key <> 'bucket_header' OR value ~ '^[A-Za-z0-9-]{1,64}$');

CREATE TABLE route_overrides (
    bucket      text PRIMARY KEY REFERENCES buckets (name) ON DELETE CASCADE,
    policy      text NOT NULL DEFAULT '-'
                CHECK (policy IN ('-', 'rr', 'lc', 'p2c', 'ewma', 'chash', 'random', 'first')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- In the order given: the order is the route's (policy first takes the
-- first that can serve).
CREATE TABLE route_override_endpoints (
    bucket        text NOT NULL REFERENCES route_overrides (bucket) ON DELETE CASCADE,
    position      integer NOT NULL CHECK (position BETWEEN 0 AND 1023),
    address       text NOT NULL,              -- IPv4:port or [IPv6]:port
    cluster       text NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    weight        integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
    max_inflight  integer NOT NULL DEFAULT 0 CHECK (max_inflight BETWEEN 0 AND 65535),
    PRIMARY KEY (bucket, position),
    UNIQUE (bucket, address, cluster)
);

-- The route of a bucket changes with its override (publish only: the
-- placement, hence the data, stays where it is).
CREATE FUNCTION fado_overrides_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM fado_mark_buckets(ARRAY(SELECT bucket FROM new_rows), false);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM fado_mark_buckets(ARRAY(SELECT bucket FROM old_rows), false);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER route_overrides_inserted AFTER INSERT ON route_overrides
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_overrides_changed();
CREATE TRIGGER route_overrides_updated AFTER UPDATE ON route_overrides
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_overrides_changed();
CREATE TRIGGER route_overrides_deleted AFTER DELETE ON route_overrides
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_overrides_changed();
CREATE TRIGGER route_override_endpoints_inserted AFTER INSERT ON route_override_endpoints
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_overrides_changed();
CREATE TRIGGER route_override_endpoints_updated AFTER UPDATE ON route_override_endpoints
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_overrides_changed();
CREATE TRIGGER route_override_endpoints_deleted AFTER DELETE ON route_override_endpoints
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_overrides_changed();

-- An override names endpoints with their cluster's zone: a zone change of
-- the cluster changes the record. (Endpoint changes of the cluster do not:
-- the override's list is explicit.)
CREATE FUNCTION fado_override_clusters_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_buckets(ARRAY(
        SELECT DISTINCT e.bucket FROM route_override_endpoints e
          JOIN new_rows n ON n.name = e.cluster
          JOIN old_rows o ON o.name = n.name
         WHERE n.zone IS DISTINCT FROM o.zone), false);
    RETURN NULL;
END $$;

CREATE TRIGGER clusters_override_zone AFTER UPDATE ON clusters
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_override_clusters_updated();

CREATE TABLE published_settings (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- bucket_header goes to the gateways: a change marks the default route so
-- that the next sync runs, and each sync publishes what differs.
CREATE FUNCTION fado_settings_published() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = 'bucket_header'
       AND (TG_OP = 'INSERT' OR NEW.value IS DISTINCT FROM OLD.value) THEN
        PERFORM fado_mark_buckets(ARRAY[''], false);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER settings_published AFTER INSERT OR UPDATE ON settings
    FOR EACH ROW EXECUTE FUNCTION fado_settings_published();

-- Publish the current value once after the upgrade.
INSERT INTO dirty_buckets (bucket) VALUES ('') ON CONFLICT (bucket) DO NOTHING;
