-- segel-audit-export.sql: the shared audit database (PostgreSQL) as the JSON lines that
-- scripts/segel-audit-verify reads, with psql alone (docs/audit.md, "Checking without segel"):
--   psql -At -d segel_audit -f segel-audit-export.sql > audit.jsonl
--   segel-audit-verify log --export audit.jsonl --seal-cert seal.pem
SELECT json_build_object('type', 'checkpoint', 'node', node, 'sequence', seq, 'size', size,
                         'text', translate(encode(body, 'base64'), E'\n', ''),
                         'signature', translate(encode(signature, 'base64'), E'\n', ''))
  FROM audit_checkpoints ORDER BY node, seq;
SELECT json_build_object('type', 'count', 'node', node, 'hour', hour, 'unit', unit, 'kind', kind,
                         'decision', decision, 'reason_code', reason_code, 'verdict', verdict, 'n', n)
  FROM audit_counts;
SELECT json_build_object('type', 'event', 'node', node, 'index', idx,
                         'raw', translate(encode(data, 'base64'), E'\n', ''))
  FROM audit_events ORDER BY node, idx;
