-- The cluster record's endpoint tokens (006's fado_cluster_endpoints), same
-- text, written so that PostgreSQL plans it once per connection. A
-- LANGUAGE sql function that is not inlined is planned again at every
-- statement that calls it, and so was fado_endpoint_addrs inside it: that
-- planning, not the lookup, was most of the time the leader spent reading
-- a cluster's record (about 2 ms of 2.5 ms idle, 5 ms on a loaded machine).
-- PL/pgSQL keeps the plan of the query below for the session.
CREATE OR REPLACE FUNCTION fado_cluster_endpoints(cluster_name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT string_agg(t.tok, ' ' ORDER BY t.addr COLLATE "C")
          FROM (SELECT DISTINCT ON (a.addr COLLATE "C") a.addr,
                       a.addr || ',' || e.weight || ',' || e.max_inflight
                       || CASE WHEN e.scheme = 'http' AND NOT e.named AND e.path = '' THEN ''
                          ELSE ',' || e.scheme || ',' || CASE WHEN e.named THEN e.host ELSE '-' END
                               || ',' || CASE WHEN e.path = '' THEN '-' ELSE e.path END
                          END AS tok
                  FROM endpoints e
                 CROSS JOIN LATERAL (
                       SELECT CASE WHEN strpos(e.host, ':') > 0 THEN '[' || e.host || ']'
                                   ELSE e.host END || ':' || e.port AS addr
                        WHERE NOT e.named
                       UNION ALL
                       SELECT CASE WHEN strpos(x, ':') > 0 THEN '[' || x || ']'
                                   ELSE x END || ':' || e.port
                         FROM endpoint_names n, unnest(n.addresses) AS x
                        WHERE e.named AND n.host = e.host) a
                 WHERE e.cluster = cluster_name
                 ORDER BY a.addr COLLATE "C", e.address COLLATE "C") t);
END
$$;
