-- The PostgreSQL benchmark table (127 bytes of COPY text per row): run with
-- psql -v rows=N -f bench/sql/pg_bench_src.sql. Used by pg_to_pg.sh and pg_to_parquet.sh.
CREATE TABLE bench_src (
  id bigint PRIMARY KEY, account integer NOT NULL, amount numeric(12,2), price double precision,
  active boolean, name text, note text, created_at timestamptz, day date);
INSERT INTO bench_src
SELECT g, ((g::bigint * 7919) % 100000)::int, ((g * 31) % 1000000) / 100.0, g * 0.37, g % 3 = 0,
       'customer-' || lpad((g % 99991)::text, 8, '0'), md5(g::text) || ' ' || (g % 1000),
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '1 second', DATE '2020-01-01' + (g % 2000)
FROM generate_series(1, :rows) g;
VACUUM ANALYZE bench_src;
