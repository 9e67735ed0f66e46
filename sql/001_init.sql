-- fado schema, version 1: platform, buckets, replicas, routes, tokens.
-- Applied by fado-controller at start, in a transaction, under an advisory
-- lock; recorded in schema_migrations.

CREATE TABLE zones (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,63}$'),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clusters (
    name                text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,63}$'),
    zone                text NOT NULL REFERENCES zones (name),
    storage_endpoint    text NOT NULL DEFAULT '',
    -- write-only through the API: never returned, never logged
    storage_access_key  text NOT NULL DEFAULT '',
    storage_secret_key  text NOT NULL DEFAULT '',
    healthy             boolean NOT NULL DEFAULT true,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE endpoints (
    cluster       text NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    address       text NOT NULL,              -- IPv4:port or [IPv6]:port
    weight        integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
    max_inflight  integer NOT NULL DEFAULT 0 CHECK (max_inflight BETWEEN 0 AND 65535),
    PRIMARY KEY (cluster, address)
);

CREATE TABLE buckets (
    name              text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
    home_cluster      text NOT NULL REFERENCES clusters (name),
    allowed_zones     text[] NOT NULL DEFAULT '{}',
    replicas          integer NOT NULL DEFAULT 1 CHECK (replicas BETWEEN 1 AND 64),
    pinned_clusters   text[] NOT NULL DEFAULT '{}',
    policy            text NOT NULL DEFAULT '-',
    placement_ok      boolean,
    placement_reason  text NOT NULL DEFAULT '',
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE replicas (
    bucket      text NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
    cluster     text NOT NULL REFERENCES clusters (name),
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'syncing', 'ready', 'removing', 'failed')),
    reason      text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, cluster)
);

-- What the publisher last wrote to Redis for each bucket ('' = default route).
CREATE TABLE published_routes (
    bucket      text PRIMARY KEY,
    body        text NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role        text NOT NULL CHECK (role IN ('admin', 'read-only')),
    secret_hash bytea NOT NULL UNIQUE,        -- SHA-256 of the secret
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE settings (
    key    text PRIMARY KEY,
    value  text NOT NULL
);

INSERT INTO settings (key, value) VALUES
    ('default_policy', '-'),    -- '-': the gateway's configured policy
    ('bucket_header', 'X-Fado-Bucket');

-- Controller state that must survive restarts (the Redis epoch).
CREATE TABLE controller_state (
    key    text PRIMARY KEY,
    value  text NOT NULL
);
