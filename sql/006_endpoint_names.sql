-- fado schema, version 6: function endpoints by host name and URL.
--
-- An endpoint keeps what the user wrote (address: "10.0.0.1:8080",
-- "[::1]:8080", "http://fn.example:8080/api", "https://fn.example") and
-- its parts. A DNS name is resolved by the leading controller
-- (controller/fado_resolve.c), one row per name in endpoint_names, kept
-- apart from endpoints because a cluster update rewrites its endpoint rows
-- while the name and its last good answer stay. A changed answer marks the
-- clusters whose endpoints use the name, so their route record (C2) is
-- published again like any other change.

ALTER TABLE endpoints
    ADD COLUMN scheme text NOT NULL DEFAULT 'http' CHECK (scheme IN ('http', 'https')),
    ADD COLUMN host   text NOT NULL DEFAULT '',   -- IP literal (IPv6 without []) or DNS name
    ADD COLUMN port   integer NOT NULL DEFAULT 0 CHECK (port BETWEEN 0 AND 65535),
    ADD COLUMN path   text NOT NULL DEFAULT '',   -- '' or a prefix "/a/b"
    ADD COLUMN named  boolean NOT NULL DEFAULT false;  -- host is a name to resolve

-- Rows of earlier versions are all "IPv4:port" or "[IPv6]:port".
UPDATE endpoints e
   SET host = m[1], port = m[2]::int
  FROM (SELECT cluster, address, regexp_match(address, '^\[?([^]]*?)\]?:([0-9]+)$') AS m
          FROM endpoints) x
 WHERE x.cluster = e.cluster AND x.address = e.address AND x.m IS NOT NULL;

CREATE INDEX endpoints_named ON endpoints (host) WHERE named;

CREATE TABLE endpoint_names (
    host          text PRIMARY KEY,
    addresses     text[] NOT NULL DEFAULT '{}',  -- the last good answer, sorted
    resolved_at   timestamptz,                   -- when it was had (NULL: never)
    changed_at    timestamptz,                   -- when it last differed
    attempted_at  timestamptz,                   -- last lookup, good or not
    last_error    text NOT NULL DEFAULT '',      -- of the last lookup ('' = it worked)
    failures      integer NOT NULL DEFAULT 0,    -- failed lookups in a row
    due_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoint_names_due ON endpoint_names (due_at);

-- A new name is due at once; an existing one keeps its answer.
CREATE FUNCTION fado_endpoint_names_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO endpoint_names (host)
    SELECT DISTINCT host FROM new_rows WHERE named
    ON CONFLICT (host) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER endpoints_names_inserted AFTER INSERT ON endpoints
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_endpoint_names_add();
CREATE TRIGGER endpoints_names_updated AFTER UPDATE ON endpoints
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_endpoint_names_add();

-- An answer that changed: the record of every cluster using the name.
CREATE FUNCTION fado_endpoint_names_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fado_mark_clusters(ARRAY(
        SELECT DISTINCT e.cluster FROM endpoints e
          JOIN new_rows n ON n.host = e.host AND e.named
          JOIN old_rows o ON o.host = n.host
         WHERE n.addresses IS DISTINCT FROM o.addresses));
    RETURN NULL;
END $$;

CREATE TRIGGER endpoint_names_updated AFTER UPDATE ON endpoint_names
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fado_endpoint_names_updated();

-- Rows written without the parts (an "IPv4:port" or "[IPv6]:port" address,
-- as before version 6) get them here, so every writer publishes alike.
CREATE FUNCTION fado_endpoints_parts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m text[];
BEGIN
    IF NEW.host = '' THEN
        m := regexp_match(NEW.address, '^\[?([^]]*)\]?:([0-9]+)$');
        IF m IS NULL THEN
            RAISE EXCEPTION 'endpoint address "%" has no host and port', NEW.address
                USING ERRCODE = '23514';
        END IF;
        NEW.host := m[1];
        NEW.port := m[2]::int;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER endpoints_parts BEFORE INSERT OR UPDATE ON endpoints
    FOR EACH ROW EXECUTE FUNCTION fado_endpoints_parts();

-- "ip:port" or "[ip6]:port".
CREATE FUNCTION fado_addr_port(ip text, port integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN strpos(ip, ':') > 0 THEN '[' || ip || ']' ELSE ip END || ':' || port
$$;

-- The addresses an endpoint publishes: its literal address, or one per
-- address of its name's last good answer (none before the first).
CREATE FUNCTION fado_endpoint_addrs(e endpoints) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT e.named THEN ARRAY[fado_addr_port(e.host, e.port)]
           ELSE coalesce((SELECT array_agg(fado_addr_port(a, e.port) ORDER BY a COLLATE "C")
                            FROM endpoint_names n, unnest(n.addresses) AS a
                           WHERE n.host = e.host), '{}') END
$$;

-- The endpoint2 tokens of a cluster record (docs/routing-contract.md):
-- "addr,weight,max_inflight" and, for an https endpoint, a named one or
-- one with a path prefix, ",scheme,host,prefix" ('-' for no host or no
-- prefix). Every address of a name gets the endpoint's weight and
-- max_inflight (as nginx gives each address of a server name). An address
-- two endpoints of the cluster share is published once, for the first in
-- byte order of what was written. NULL: no endpoint to publish.
CREATE FUNCTION fado_cluster_endpoints(cluster_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(t.tok, ' ' ORDER BY t.addr COLLATE "C")
      FROM (SELECT DISTINCT ON (a.addr COLLATE "C") a.addr,
                   a.addr || ',' || e.weight || ',' || e.max_inflight
                   || CASE WHEN e.scheme = 'http' AND NOT e.named AND e.path = '' THEN ''
                      ELSE ',' || e.scheme || ',' || CASE WHEN e.named THEN e.host ELSE '-' END
                           || ',' || CASE WHEN e.path = '' THEN '-' ELSE e.path END
                      END AS tok
              FROM endpoints e, unnest(fado_endpoint_addrs(e)) AS a(addr)
             WHERE e.cluster = cluster_name
             ORDER BY a.addr COLLATE "C", e.address COLLATE "C") t
$$;

-- An endpoint as the API shows it: what was written, its parts, what is
-- published for it and, for a name, its resolution (and why nothing is
-- published when nothing is).
CREATE FUNCTION fado_endpoint_json(e endpoints) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'address', e.address, 'weight', e.weight, 'max_inflight', e.max_inflight,
        'scheme', e.scheme, 'host', e.host, 'port', e.port, 'path', e.path,
        'published', to_json(fado_endpoint_addrs(e)),
        'resolution', CASE WHEN e.named THEN json_build_object(
            'addresses', coalesce(n.addresses, '{}'), 'resolved_at', n.resolved_at,
            'changed_at', n.changed_at, 'attempted_at', n.attempted_at,
            'last_error', coalesce(n.last_error, ''), 'failures', coalesce(n.failures, 0)) END,
        'reason', CASE
            WHEN NOT e.named THEN NULL
            WHEN n.resolved_at IS NULL AND coalesce(n.last_error, '') = '' THEN
                'not published: the name is not resolved yet'
            WHEN n.resolved_at IS NULL THEN
                'not published: the name was never resolved (' || n.last_error || ')'
            WHEN n.last_error <> '' THEN
                'lookups fail (' || n.last_error || '): the last good answer stays published'
            END)
      FROM (SELECT 1) one LEFT JOIN endpoint_names n ON n.host = e.host
$$;
